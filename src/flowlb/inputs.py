"""Reading an input file the operator names (a haproxy.cfg, a cluster spec): a regular file of bounded size.

A FIFO, a device (``/dev/zero``) or a directory is refused before a byte is read, so no input can hang
a run or fill its memory::

    text = read_input(Path("haproxy.cfg"), "config")   # FlowlbError: one line naming the path and why
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from flowlb.errors import FlowlbError

MAX_INPUT_BYTES = 16 << 20  # 16 MiB: far above real configs (a 120k-line ACL config is 5 MB), far below memory


def check_input(path: Path, what: str = "config") -> int:
    """The size of ``path``, a regular file of at most ``MAX_INPUT_BYTES``; one-line ``FlowlbError`` otherwise."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FlowlbError(f"{path}: no such file") from None
    except OSError as exc:
        raise FlowlbError(f"{path}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise FlowlbError(f"{path}: is a directory, not a {what} file")
    if not stat.S_ISREG(info.st_mode):
        raise FlowlbError(f"{path}: not a regular file (a FIFO, socket or device); give the {what} file itself")
    if info.st_size > MAX_INPUT_BYTES:
        raise FlowlbError(f"{path}: {info.st_size} bytes, over the {MAX_INPUT_BYTES >> 20} MiB flowlb reads "
                          f"as a {what}")
    return info.st_size


def read_input(path: Path, what: str = "config") -> str:
    """The UTF-8 text of ``path`` (see :func:`check_input`); one-line ``FlowlbError`` when it cannot be read."""
    check_input(path, what)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)  # the file may have grown since its stat
    except OSError as exc:
        raise FlowlbError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise FlowlbError(f"{path}: over the {MAX_INPUT_BYTES >> 20} MiB flowlb reads as a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FlowlbError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
