"""DuckDB read models of the ledger (DESIGN §9): disposable, rebuilt from the log.

Importing this package imports DuckDB; the core (``ledger``) never does. Open a
projection with :func:`open_projection` and query it with the functions of
:mod:`ledger.projections.queries`, each on its own cursor.
"""

from __future__ import annotations

from ledger.projections import claimreview, queries
from ledger.projections.diff import render as render_diff
from ledger.projections.diff import word_diff
from ledger.projections.projector import (
    CACHE_NAME,
    SCHEMA_VERSION,
    Projection,
    Refresh,
    open_projection,
    schema_sql,
)
from ledger.projections.views import (
    Appearance,
    AttributionView,
    Change,
    ClaimPage,
    ClaimRow,
    ClaimState,
    DayCount,
    DiffOp,
    EventView,
    FieldBlame,
    HistoryStep,
    ReviewRow,
    ScaleStep,
    Signed,
    SourceAttribution,
    SourceView,
    VerdictView,
)

__all__ = [
    "CACHE_NAME",
    "SCHEMA_VERSION",
    "Appearance",
    "AttributionView",
    "Change",
    "ClaimPage",
    "ClaimRow",
    "ClaimState",
    "DayCount",
    "DiffOp",
    "EventView",
    "FieldBlame",
    "HistoryStep",
    "Projection",
    "Refresh",
    "ReviewRow",
    "ScaleStep",
    "Signed",
    "SourceAttribution",
    "SourceView",
    "VerdictView",
    "claimreview",
    "open_projection",
    "queries",
    "render_diff",
    "schema_sql",
    "word_diff",
]
