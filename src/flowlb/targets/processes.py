"""Child processes that die with us: the local target's HAProxy and mock nodes."""

from __future__ import annotations

import ctypes
import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


PRODUCTION_NOFILE = 1_048_576  # what an LB started as root may open (HAProxy raises its own limit there)


def _before_exec(user: int | None) -> Callable[[], None]:
    """What runs in the child before exec: the kernel SIGKILLs it when the test process dies, however.

    It also lifts the open-files limit as far as this user may, as on an LB that HAProxy starts as root:
    a config with ``maxconn 20000`` needs about 40,000 descriptors, and HAProxy refuses to start
    without them. Where the limit cannot be raised, it stays as it is. Then, given a ``user``, the child
    becomes that user (and group) with no other groups: the limit first, which only root may lift, and
    the parent-death signal last, since a change of user clears it.
    """

    def run() -> None:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (PRODUCTION_NOFILE, PRODUCTION_NOFILE))
        except (ValueError, OSError):
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return run


def spawn(
    argv: Sequence[str], log: Path | None = None, env: dict[str, str] | None = None, stdin: int = subprocess.DEVNULL,
    user: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (as ``user``, when given); stdout is a pipe (or ``log``), stderr goes with it. The child
    dies with us."""
    output: IO[bytes] | int = open(log, "ab") if log else subprocess.PIPE  # noqa: SIM115 - owned by the child
    try:
        return subprocess.Popen(
            list(argv),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=stdin,
            env={**os.environ, **(env or {})},
            preexec_fn=_before_exec(user),  # noqa: PLW1509 - no threads are started before this
        )
    finally:
        if not isinstance(output, int):
            output.close()


def read_line_matching(process: subprocess.Popen[bytes], prefix: str, timeout: float) -> tuple[str | None, str]:
    """Read ``process``'s stdout until a line starts with ``prefix``; return (that line, all output).

    The line is ``None`` when the process exits or ``timeout`` passes first.
    """
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode(errors="replace")
                seen.append(line)
                if line.startswith(prefix):
                    return line, "\n".join(seen)
    seen.append(buffer.decode(errors="replace"))
    return None, "\n".join(seen).strip()


def stop(process: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """Terminate, then kill after ``grace`` seconds; also wakes a stopped (SIGSTOP) process."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace)
    except ProcessLookupError:
        pass
    if process.stdout:
        process.stdout.close()
