"""Resolve what a person typed to a full id, as git resolves abbreviated hashes."""

from __future__ import annotations

from collections.abc import Iterable

from ledger.errors import UsageError


def resolve(prefix: str, candidates: Iterable[str], what: str) -> str:
    """The one candidate starting with ``prefix``; a clear error for none or several."""
    if not prefix:
        raise UsageError(f"an empty {what} id matches nothing")
    finder = getattr(candidates, "with_prefix", None)
    if finder is not None:
        # A table of the cached state: look the prefix up by index, not by a full scan.
        candidates = finder(prefix)
    exact = None
    matches: list[str] = []
    for candidate in candidates:
        if candidate == prefix:
            exact = candidate
        if candidate.startswith(prefix):
            matches.append(candidate)
            if len(matches) > 8:
                break
    if exact is not None:
        return exact
    if not matches:
        raise UsageError(
            f"no {what} matches {prefix!r}", hint="list them with 'factledger log' or check the id"
        )
    if len(matches) > 1:
        shown = ", ".join(sorted(m[: len(prefix) + 4] for m in matches[:5]))
        raise UsageError(
            f"{prefix!r} matches several {what}s ({shown}…)", hint="type more characters of the id"
        )
    return matches[0]
