"""The ``factledger`` console script: the command line, imported inside a ``try``.

Importing the command line takes tens of milliseconds; a Ctrl-C in them ended in a
traceback of the import machinery. Here it ends as a Ctrl-C at any other moment does:
``interrupted`` and exit 130. This module imports nothing else before that.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from ledger.cli.main import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return run()


__all__ = ["main"]
