"""factledger's terminal UI (DESIGN §10): review claims and step through their history.

Run it with ``factledger tui [DIR]`` or ``python -m tui [DIR]``. It reads the ledger
only through the projection queries (:mod:`ledger.projections.queries`) and the
verifier (:mod:`ledger.verify`); every read runs in a thread worker.

The application is imported on first use, so that helper processes (which import
``tui.jobs``) do not load Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.app import FactLedgerApp, run

__all__ = ["FactLedgerApp", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tui import app

        return getattr(app, name)
    raise AttributeError(f"module 'tui' has no attribute {name!r}")
