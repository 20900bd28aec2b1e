"""Cleanup that a second Ctrl-C (or SIGTERM) cannot cut short.

    with deferred_signals():
        stop_locust(); remove_partial_directory()

SIGINT and SIGTERM are blocked for the block's duration and delivered when it ends, so the
interrupt still stops the program, once the cleanup is done. Only the main thread can block them
for itself; elsewhere the block runs as is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
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
