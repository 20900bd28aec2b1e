"""Cleanup that a second Ctrl-C (or SIGTERM) cannot cut short.

``interrupt_once()`` makes the first signal interrupt the program and the later ones wait for its
cleanup; ``deferred_signals()`` holds them for one block (where the handlers are not flowlb's);
``within()`` bounds a cleanup that a lock left held by an interrupt could otherwise hang.

    with deferred_signals():
        stop_locust(); remove_partial_directory()
    within(5.0, pool.close, "closing the LB connections")

SIGINT and SIGTERM are blocked for the block's duration and delivered when it ends, so the
interrupt still stops the program, once the cleanup is done. Only the main thread can block them
for itself; elsewhere the block runs as is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DEFERRED = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (main thread); then they arrive as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_interrupted = threading.Event()
_DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
"""Python's own handlers: only these are replaced, never one the caller ignores (a background job) or set itself."""


def _interrupt_once(signum: int, frame: object) -> None:
    """The first SIGINT/SIGTERM raises KeyboardInterrupt; later ones only say that the cleanup is under way."""
    if not _interrupted.is_set():
        _interrupted.set()
        raise KeyboardInterrupt(f"signal {signum}")
    with contextlib.suppress(OSError):
        os.write(2, b"flowlb: interrupted; still cleaning up (clusters, processes, drained servers), please wait\n")


def _hold_until_started(signum: int, frame: object) -> None:
    """A signal before the program can clean up after one (pytest still parsing its command line): noted, and
    acted on by :func:`interrupt_once`, instead of a KeyboardInterrupt whose traceback nobody handles."""
    del frame
    if _interrupted.is_set():
        return
    _interrupted.set()
    with contextlib.suppress(OSError):
        os.write(2, f"flowlb: interrupted (signal {signum}); stopping before the run starts\n".encode())


def hold_signals_until_started() -> None:
    """Hold SIGINT and SIGTERM from now until :func:`interrupt_once` takes over, which raises the interrupt then.

    For pytest, whose command line, plugins and conftests load before any hook can handle a
    KeyboardInterrupt (about a second, longer on a loaded machine): an interrupt there printed a
    traceback, and a second signal killed the run by that signal.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for number, default in _DEFAULTS.items():
        if signal.getsignal(number) is default:
            signal.signal(number, _hold_until_started)


def interrupted() -> bool:
    """Whether SIGINT or SIGTERM came since :func:`interrupt_once`, even where the KeyboardInterrupt it raised was
    swallowed on its way up (a cleanup's ``except BaseException``, a handler run inside a deferred block)."""
    return _interrupted.is_set()


def interrupt_once() -> None:
    """Make SIGINT and SIGTERM interrupt the program once: a second or third signal cannot cut its cleanup short.

    Every wait in a cleanup is bounded, so the program still ends by itself; SIGKILL remains for the impatient.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    held = False
    for number, default in _DEFAULTS.items():
        current = signal.getsignal(number)
        held = held or current is _hold_until_started
        if current in (default, _hold_until_started):  # not one the caller ignores (a background job) or handles
            signal.signal(number, _interrupt_once)
    if held and _interrupted.is_set():
        raise KeyboardInterrupt("a signal while the program started")


def cleanup_done(exiting: bool = False) -> None:
    """Call when the program's cleanup is over: if an interrupt came, or the program is about to exit
    (``exiting``), later signals are ignored from now on.

    Python resets its signal handlers to the system's default as it starts to finalize, and that takes
    about a tenth of a second; a second Ctrl-C landing then killed an interrupted run by the signal,
    after its cleanup was done, instead of letting it exit with its own code (130, or pytest's 2).
    A run that no signal interrupted keeps its handlers unless it is ``exiting`` (pytest may be run
    in-process, by a program that goes on).
    """
    if (exiting or _interrupted.is_set()) and threading.current_thread() is threading.main_thread():
        for number in DEFERRED:
            if signal.getsignal(number) is _interrupt_once:
                signal.signal(number, signal.SIG_IGN)


def within(seconds: float, cleanup: Callable[[], object], what: str) -> bool:
    """Run ``cleanup`` for at most ``seconds``; False, and the user told, when it had not ended by then.

    An interrupt that lands while a lock is held (a connection pool's, in the middle of a request) can
    leave it held, and a cleanup waiting for it would wait forever. Past ``seconds`` the cleanup is
    left to a daemon thread, which the process does not wait for at exit.
    """
    worker = threading.Thread(target=cleanup, name=f"flowlb-cleanup: {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        with contextlib.suppress(OSError):
            os.write(2, f"flowlb: {what} did not end within {seconds:g} s (an interrupt left it locked); "
                        "going on without it\n".encode())
        return False
    return True


@contextmanager
def temporary_directory(prefix: str) -> Iterator[str]:
    """A temporary directory that an interrupt cannot leave behind: made and removed with the signals held.

    ``tempfile.TemporaryDirectory`` removes it as the block ends, but a first Ctrl-C landing during that
    removal (or between its creation and the block) stops it half done.
    """
    with deferred_signals():
        directory = tempfile.mkdtemp(prefix=prefix)
    try:
        yield directory
    finally:
        with deferred_signals():
            shutil.rmtree(directory, ignore_errors=True)
