"""Locust's own bugs that flowlb works around: each reproduced as Locust meets it, with and without the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WRITER_AFTER_CLOSE = """
import sys
import gevent
from locust.env import Environment
from locust.stats import StatsCSVFileWriter
if sys.argv[2] == "fixed":
    from flowlb.load import locustfixes
    locustfixes.apply()
writer = StatsCSVFileWriter(Environment(), [0.5], sys.argv[1], full_history=True)
greenlet = gevent.spawn(writer.stats_writer)
gevent.sleep(0.2)  # the writer wrote its headers and sleeps until its next pass, as in a run
writer.close_files()  # what Locust's shutdown() does, leaving the writer running
gevent.sleep(1.5)  # the master's atexit wait for its workers: the writer wakes
print("died:", type(greenlet.exception).__name__ if greenlet.exception else "no")
"""


@pytest.mark.parametrize("fixed", [True, False])
def test_the_csv_writer_ends_quietly_once_shutdown_closed_its_files(tmp_path: Path, fixed: bool) -> None:
    """Locust closes its CSV files in shutdown() while their writer greenlet runs on: it died on the closed file
    with a traceback after 2 of 14 interrupted ``flowlb load --processes 2`` runs."""
    command = [sys.executable, "-c", WRITER_AFTER_CLOSE, str(tmp_path / "run"), "fixed" if fixed else "as shipped"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("died: no" if fixed else "died: ValueError"), result.stdout + result.stderr
