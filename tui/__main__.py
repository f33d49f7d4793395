"""``python -m tui [DIR] [--unsafe-allow-test-keys]``: the same as ``factledger tui``."""

from __future__ import annotations

import sys

from ledger.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["tui", *sys.argv[1:]]))
