"""``flowlb`` (and ``python -m flowlb``): the command, its signal handling in place before anything heavy loads.

Ctrl-C or SIGTERM in the first tenth of a second, while the command line's modules import, or in the
last, while Python exits, would otherwise meet Python's defaults: SIGTERM ended the run with no word and
no exit code of its own, where flowlb exits 130 (or with its verdict).
"""

from __future__ import annotations

import signal
import sys


def main() -> int:
    """Install flowlb's interrupt handling, then run :func:`flowlb.cli.main`."""
    from flowlb.interrupts import interrupt_once

    if sys.argv[1:2] != ["mock-node"]:  # a mock node handles its own signals
        interrupt_once()
    try:
        from flowlb.cli import main as run

        return run()
    except KeyboardInterrupt:  # an interrupt while the modules import: nothing has started yet
        print("flowlb: interrupted", file=sys.stderr)
        return 130
    finally:
        # the run is over, its report written or its cleanup done: a signal landing while Python exits (it
        # restores the system's handlers first) would end it by that signal instead of its own exit code
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
