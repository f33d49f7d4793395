"""A claim as of a position (see queries.claim_state), in one or two index lookups.

``claim_states`` holds the claim's state from each change of it on (a version's
fields and verdict, or its attributions, as JSON text: fetching a row by index
costs per column, and a list column most), with the event that made the change.
One lookup by ``claim_id`` gives every such line (a handful): the latest version
and attributions at the position are picked here, and the signed events they
point to are among the lines (every such event made a change of the claim; any
that is not, which no log can make, would be looked up in ``events``).
A second lookup gives the sources as of the position (their titles and grades
change with their own events). Key names and the scale come from the Projection's memo.

Each statement is plain (one table, no join): planning a statement costs more than
these lookups, and a statement that unions or joins them plans slower than all.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ledger.errors import UsageError
from ledger.projections._common import (
    Cursors,
    at_position,
    build,
    fetch_all,
    head,
    key_names,
    resolve,
    rows_of,
    scale_values,
)
from ledger.projections.views import (
    Appearance,
    AttributionView,
    ClaimState,
    FieldBlame,
    Signed,
    VerdictView,
)

_LINES: Final = (
    'SELECT seq_from, version, links, id, kind, author, "at", redacted FROM claim_states '
    "WHERE claim_id = $c"
)
_JSON: Final = msgspec.json.Decoder()
_SIGNED: Final = 'SELECT seq, id, kind, author, "at", redacted FROM events WHERE seq IN '
_SOURCES: Final = (
    "SELECT source_id, seq_from, seq_to, title, grade FROM sources WHERE source_id IN "
)
"""The lists are literals (numbers, and quoted strings): an IN list of constants is an
index lookup, a list parameter a join."""


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def live(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The lines current as of ``n``."""
    return [r for r in rows if r["seq_from"] <= n and (r["seq_to"] is None or r["seq_to"] > n)]


def claim_state(src: Cursors, claim: str, as_of: int | str | None) -> ClaimState:
    text = claim.strip()
    with src.cursor() as cur:
        lines = fetch_all(cur, _LINES, {"c": text}) if text else []
        if any(line[1] is not None for line in lines):
            claim_id = text  # a whole id: what resolve() would answer
            # (attributions alone, in a log that breaks the rules, make no claim)
        else:
            claim_id = resolve(src, claim, "claim")
            lines = fetch_all(cur, _LINES, {"c": claim_id})
        n = at_position(cur, as_of, head=head(src, cur))
        versions = [line for line in lines if line[0] <= n and line[1] is not None]
        if not versions:
            raise UsageError(f"{claim_id} did not exist yet at position {n}")
        c: dict[str, Any] = _JSON.decode(max(versions)[1])
        changes = [line for line in lines if line[0] <= n and line[2] is not None]
        links: list[dict[str, Any]] = _JSON.decode(max(changes)[2]) if changes else []
        verdict = c["verdict"]
        c["links"] = links
        pointers = [c["asserted_seq"], c["text_seq"], c["status_seq"], c["verdict_seq"]]
        pointers += [verdict["seq_from"] if verdict else None]
        pointers += [s for a in links for s in (a["attributed_seq"], a["withdrawn_seq"])]
        seqs = {s for s in pointers if s is not None}
        events = {line[0]: line[3:] for line in lines if line[0] in seqs}
        missing = seqs - events.keys()  # a guard: every pointer made a line of its own
        if missing:
            listed = ", ".join(str(int(s)) for s in sorted(missing))
            events.update((e[0], e[1:]) for e in fetch_all(cur, f"{_SIGNED}({listed})"))
        signed: dict[int, Signed] = {}
        hidden: set[int] = set()
        names = key_names(src, cur) if events else {}
        for seq, (event_id, kind, author, at, redacted) in events.items():
            signed[seq] = build(Signed, (event_id, seq, kind, author, names.get(author), at))
            if redacted:
                hidden.add(seq)
        wanted = sorted(({a["source_id"] for a in links} | {c["appearance_source"]}) - {None})
        sources: dict[str, dict[str, Any]] = {}
        if wanted:
            listed = ", ".join(_quoted(i) for i in wanted)
            for row in live(rows_of(cur, f"{_SOURCES}({listed})"), n):
                sources.setdefault(row["source_id"], row)
        value = scale_values(src, cur).get(verdict["rating"]) if verdict else None
    return _state(claim_id, n, c, value, signed, hidden, sources)


def _state(
    claim_id: str,
    n: int,
    c: dict[str, Any],
    rating_value: int | None,
    signed: dict[int, Signed],
    hidden: set[int],
    sources: dict[str, dict[str, Any]],
) -> ClaimState:
    v = c["verdict"]
    verdict = None
    if v is not None:
        verdict = VerdictView(
            rating=v["rating"],
            rating_value=rating_value,
            rationale=v["rationale"],
            revision=v["revision"],
            changes_rating=v["changes_rating"],
            redacted=v["redacted"],
            signed=signed[v["seq_from"]],
        )
    appearance = None
    if c["appearance_source"] is not None:
        shown = sources.get(c["appearance_source"])
        appearance = Appearance(
            source_id=c["appearance_source"],
            source_title=shown["title"] if shown else None,
            quote=c["appearance_quote"],
            locator=c["appearance_locator"],
        )
    asserted = c["asserted_seq"]
    fields: list[tuple[str, Any, int | None]] = [
        ("text", c["text"], c["text_seq"]),
        ("kind", c["kind"], asserted),
        ("claimant", c["claimant"], asserted),
        ("topics", c["topics"], asserted),
        ("appearance", c["appearance_source"], asserted),
        ("status", c["status"], asserted if c["status_seq"] is None else c["status_seq"]),
        ("verdict", verdict.rating if verdict else None, c["verdict_seq"]),
    ]
    blame = [
        FieldBlame(field=name, value=value, event=signed[seq], redacted=seq in hidden)
        for name, value, seq in fields
        if seq is not None and seq in signed
    ]
    return ClaimState(
        claim_id=claim_id,
        as_of=n,
        version_seq=c["version_seq"],
        text=c["text"],
        kind=c["kind"],
        claimant=c["claimant"],
        topics=list(c["topics"] or []),
        status=c["status"],
        status_reason=c["status_reason"],
        appearance=appearance,
        verdict=verdict,
        attributions=[_attribution(a, sources, signed) for a in c["links"]],
        blame=blame,
        redacted=[b.field for b in blame if b.redacted],
    )


def _attribution(
    a: dict[str, Any], sources: dict[str, dict[str, Any]], signed: dict[int, Signed]
) -> AttributionView:
    source = sources.get(a["source_id"]) if a["source_id"] is not None else None
    by, gone = a["attributed_seq"], a["withdrawn_seq"]
    return AttributionView(
        source_id=a["source_id"],
        source_title=source["title"] if source else None,
        source_grade=source["grade"] if source else None,
        stance=a["stance"],
        quote=a["quote"],
        locator=a["locator"],
        retrieved=a["retrieved"],
        credibility=a["credibility"],
        withdrawn=a["withdrawn"],
        withdraw_reason=a["withdraw_reason"],
        redacted=a["redacted"],
        signed=signed.get(by) if by is not None else None,
        withdrawn_by=signed.get(gone) if a["withdrawn"] and gone is not None else None,
    )
