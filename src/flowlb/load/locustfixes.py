"""Work-arounds for Locust bugs that flowlb's runs meet, each with its cause; ``apply()`` installs them.

Locust's ``shutdown()`` closes the CSV files (locustio/locust#3486) while the greenlet that rewrites
them every second still runs; the master of ``--processes`` then waits up to 3 s for its workers in
an ``atexit`` hook, the writer wakes and dies with "ValueError: I/O operation on closed file", its
traceback printed after an otherwise clean stop (2 of 14 interrupted ``flowlb load --processes 2``).
"""

from __future__ import annotations

import functools
from typing import Any

from locust.stats import StatsCSVFileWriter


def apply() -> None:
    """Install every work-around (once; importing the locustfile twice changes nothing)."""
    _writer_ends_when_its_files_close()


def _writer_ends_when_its_files_close() -> None:
    original = StatsCSVFileWriter.stats_writer
    if getattr(original, "flowlb_guarded", False):
        return

    @functools.wraps(original)
    def stats_writer(self: StatsCSVFileWriter) -> Any:
        try:
            return original(self)
        except ValueError:
            if self.requests_csv_filehandle.closed:  # shutdown() closed the files: the run is over
                return None
            raise

    stats_writer.flowlb_guarded = True  # type: ignore[attr-defined]
    StatsCSVFileWriter.stats_writer = stats_writer
