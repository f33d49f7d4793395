"""Read verbs over the DuckDB projections: show, history, query, export (DESIGN §9, §11, §13).

DuckDB is imported lazily, inside the commands, so that ``factledger verify``
starts without it. Bad input raises :class:`~ledger.errors.UsageError` (exit 2);
the main command line turns every :class:`~ledger.errors.LedgerError` into one
line on stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ledger import log
from ledger.cli.context import Context, build_progress
from ledger.cli.options import nonempty, url_template, utf8_text
from ledger.cli.output import write_output
from ledger.errors import LedgerError, UsageError
from ledger.voids import VoidRange, is_void

if TYPE_CHECKING:
    from ledger.projections import ClaimState, HistoryStep, Projection, ReviewRow, Signed

Handler = Callable[[Context, argparse.Namespace], int]
_READ_ONLY_KINDS = ("SELECT", "EXPLAIN")
_KIND_NAMES = {"LOAD": "INSTALL and LOAD", "RELATION": "relation"}
"""DuckDB's statement types as a user types them, where the two differ."""


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """Add ``show``, ``history``, ``query`` and ``export`` to the command line."""
    p = sub.add_parser(
        "show",
        parents=parents,
        help="a claim now or as of a past position or date",
        description="Show a claim: text, claimant, status, verdict, sources and who signed what.",
    )
    p.add_argument("claim", metavar="CLAIM", type=utf8_text, help="claim id (any unique prefix)")
    p.add_argument(
        "--as-of",
        metavar="SEQ|DATE",
        help="a log position (0 is the first entry), a date YYYY-MM-DD (the end of that UTC "
        "day) or an RFC 3339 time with its zone (2024-04-02T09:15:00Z, "
        "2024-04-02T11:15:00+02:00)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=show)

    p = sub.add_parser(
        "history",
        parents=parents,
        help="every version of a claim, with word diffs and who signed each",
        description="Every event of a claim's stream, with word-level diffs and signers.",
    )
    p.add_argument("claim", metavar="CLAIM", type=utf8_text, help="claim id (any unique prefix)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=history)

    p = sub.add_parser(
        "query",
        parents=parents,
        help="read-only SQL over the projections",
        description=(
            "Run one read-only SQL statement over the projections (tables events, claims, "
            "attributions, sources, verdicts, keys, scale, claim_list, claim_order, "
            "claim_states, meta; views *_now; macros *_as_of(n)); --schema prints each "
            'table\'s columns and what they mean. Quote the column "at". Writes are refused '
            "(exit 2). With --json, NaN and infinities are null and blobs are hex. Rows are "
            "written as they are read, so a result of any size streams; a table's column "
            "widths are set by its first 1,024 rows. A query that fails partway (a cast on a "
            "later row) exits 2 after the rows written so far; with --json they are left "
            "without their closing ']', so no parser takes them for the whole result. The "
            "tables say what the log records, not whether it verified: run 'factledger "
            "verify' for that."
        ),
    )
    p.add_argument("sql", metavar="SQL", type=utf8_text, nargs="?")
    p.add_argument("--json", action="store_true", help="print rows as JSON objects")
    p.add_argument(
        "--schema",
        action="store_true",
        help="print the projections' tables, views and macros (their SQL, commented) and exit",
    )
    p.set_defaults(func=query)

    p = sub.add_parser(
        "export",
        parents=parents,
        help="export claims with a current verdict (schema.org ClaimReview JSON-LD)",
        description="Write schema.org ClaimReview JSON-LD (see docs/claimreview.md).",
    )
    p.add_argument("format", choices=["claimreview"], help="export format")
    p.add_argument(
        "-o", "--output", metavar="FILE", type=nonempty, help="write to FILE instead of stdout"
    )
    p.add_argument(
        "--url",
        metavar="TEMPLATE",
        type=url_template,
        help="the fact check's page URL (http or https); {claim} becomes the claim id",
    )
    p.set_defaults(func=export)


def _open(ctx: Context, *, read_only: bool = False) -> Projection:
    from ledger.projections import open_projection

    ledger = ctx.ledger()
    # catch up with the log as one state, not mid-append
    with ledger.reading(on_wait=ctx.waiting), build_progress(ctx.err) as tell:
        projection = open_projection(ledger, read_only=read_only, on_build=tell)
        torn = log.partial_tail(ledger.events_path)  # no writer is mid-append now
        whole = bool(torn) and log.ends_in_whole_entry(ledger.events_path, torn)
    if torn:
        # as the projections do, the whole entries are read; log and verify refuse
        ctx.warn(
            f"{ledger.events_path}: {log.describe_tail(torn, whole)}, left out of what is "
            f"shown; run 'factledger repair' to {log.repair_of_tail(whole)}"
        )
    if projection.path is None and projection.note and projection.note != "asked for":
        ctx.warn(f"projection kept in memory: {projection.note}")
    return projection


def _void_ranges(ctx: Context, projection: Projection) -> list[VoidRange]:
    """The entries a ``compromised`` revocation voided, from the rules' fold (which
    follows the revocation into the keys it granted and revoked); none is the usual case,
    told by the projection without a fold."""
    with projection.cursor() as cur:
        row = cur.execute("SELECT count(*) FROM keys WHERE revoked = 'compromised'").fetchone()
    if not row or not row[0]:
        return []
    ledger = ctx.ledger()
    try:
        with ledger.reading(on_wait=ctx.waiting):
            snap = ledger.load()
    except LedgerError as exc:  # said as what it stops, keeping the file, line and rule
        exc.message = (
            f"cannot tell which entries a compromised key's revocation voided: {exc.message}"
        )
        exc.hint = "run 'factledger verify': the log must fold before they are known"
        raise
    try:
        return list(snap.state.void)
    finally:
        snap.close()


def _as_json(value: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(value)


# --- show ------------------------------------------------------------------------


def show(ctx: Context, args: argparse.Namespace) -> int:
    from ledger.projections import queries

    with _open(ctx) as projection:
        state = queries.claim_state(projection, args.claim, as_of=args.as_of)
        head = queries.size(projection) - 1
        void = _void_ranges(ctx, projection)
    if ctx.json:
        ctx.emit_json(_as_json(state))
        return 0
    for line in _show_lines(state, head, void):
        ctx.emit(line)
    return 0


def _who(signed: Signed) -> str:
    name = signed.author_name or signed.author
    return f"#{signed.seq} {signed.at} {name} ({signed.kind}, {signed.id[:12]})"


def _show_lines(state: ClaimState, head: int, void: list[VoidRange] | None = None) -> list[str]:
    when = "now" if state.as_of == head else f"as of #{state.as_of}"
    lines = [f"{state.claim_id}  {when}  (version #{state.version_seq})"]
    unknown = "[redacted]"
    lines.append(f"  text      {state.text if state.text is not None else unknown}")
    lines.append(f"  claimant  {state.claimant or '-'}    kind {state.kind or '-'}")
    if state.topics:
        lines.append(f"  topics    {', '.join(state.topics)}")
    reason = f" ({state.status_reason})" if state.status_reason else ""
    lines.append(f"  status    {state.status or unknown}{reason}")
    verdict = state.verdict
    if verdict is None:
        lines.append("  verdict   none")
    else:
        value = "" if verdict.rating_value is None else f" ({verdict.rating_value})"
        rating = verdict.rating if verdict.rating is not None else unknown
        lines.append(f"  verdict   {rating}{value}: {verdict.rationale or ''}".rstrip(": "))
    if state.appearance is not None:
        app = state.appearance
        title = app.source_title or app.source_id
        lines.append(f'  appeared  {title} ({app.source_id}) {app.locator or ""}: "{app.quote}"')
    gone = sum(a.withdrawn for a in state.attributions)
    withdrawn = f" (and {gone} withdrawn)" if gone else ""
    lines.append(f"  sources   {len(state.attributions) - gone}{withdrawn}")
    for a in state.attributions:
        source = f"{a.source_title or unknown} ({a.source_id or unknown})"
        grade = f" [{a.source_grade}]" if a.source_grade else ""
        cred = f" credibility {a.credibility}" if a.credibility is not None else ""
        stance = "withdrawn" if a.withdrawn else (a.stance or unknown)
        lines.append(f"    {stance:<10}{source}{grade}{cred}")
        if a.quote:
            lines.append(f'              "{a.quote}"' + (f" ({a.locator})" if a.locator else ""))
        if a.signed is not None:
            lines.append(f"              attributed {_who(a.signed)}")
        if a.withdrawn_by is not None:
            lines.append(f"              withdrawn {_who(a.withdrawn_by)}: {a.withdraw_reason}")
    lines.append("  signed")
    voided = 0
    for blame in state.blame:
        mark = " [redacted]" if blame.redacted else ""
        if void and is_void(void, blame.event.seq, blame.event.author, state.as_of):
            mark += " [VOID: its key was revoked as compromised]"
            voided += 1
        lines.append(f"    {blame.field:<11}{_who(blame.event)}{mark}")
    if voided:
        lines.append(
            f"  warning   {voided} field(s) above were set by entries a compromised key's "
            "revocation voided: do not rely on them; sign them again with a current key"
        )
    return lines


# --- history ---------------------------------------------------------------------


def history(ctx: Context, args: argparse.Namespace) -> int:
    from ledger.projections import queries

    with _open(ctx) as projection:
        steps = queries.claim_history(projection, args.claim)
        void = _void_ranges(ctx, projection)
    voided = [is_void(void, step.event.seq, step.event.author) for step in steps]
    if ctx.json:
        rows = _as_json(steps)
        for row, is_voided in zip(rows, voided, strict=True):
            row["void"] = is_voided
        ctx.emit_json(rows)
        return 0
    for step, is_voided in zip(steps, voided, strict=True):
        for line in _history_lines(step, void=is_voided):
            ctx.emit(line)
    return 0


def _history_lines(step: HistoryStep, *, void: bool = False) -> list[str]:
    from ledger.projections import render_diff

    event = step.event
    lines = [f"#{event.seq}  {event.at}  {event.kind}  {event.author_name or event.author}"]
    lines.append(f"    signed by {event.author}, event {event.id}")
    if void:
        lines.append("    [VOID: its key was revoked as compromised; do not rely on this entry]")
    if step.redacted:
        lines.append(f"    [body redacted: {step.redaction_reason or 'no reason recorded'}]")
    if step.diff:
        lines.append(f"    text: {render_diff(step.diff)}")
    for change in step.changes:
        old = "-" if change.old is None else change.old
        new = "-" if change.new is None else change.new
        lines.append(f"    {change.field}: {old} -> {new}")
    for key, value in step.detail.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"    {key}: {shown}")
    return lines


# --- query -----------------------------------------------------------------------


def query(ctx: Context, args: argparse.Namespace) -> int:
    if args.schema:
        if args.sql is not None:
            raise UsageError("give SQL or --schema, not both")
        from ledger.projections import schema_sql

        ctx.out.write(schema_sql())
        return 0
    if args.sql is None:
        raise UsageError(
            "give one SQL statement", hint="'factledger query --schema' lists the tables"
        )
    import duckdb

    sql: str = args.sql
    with _open(ctx, read_only=True) as projection:
        con = projection.cursor()
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise UsageError(f"SQL does not parse: {_first_line(exc)}") from None
        if len(statements) != 1:
            raise UsageError(f"give exactly one SQL statement, not {len(statements)}")
        kind = statements[0].type.name
        if kind not in _READ_ONLY_KINDS:
            name = _KIND_NAMES.get(kind, kind.replace("_", " "))
            raise UsageError(
                f"query is read-only: {name} statements are refused",
                hint="the projections are rebuilt from the log; change the ledger with its verbs",
            )
        try:
            result = con.execute(statements[0])
            columns = [d[0] for d in result.description or []]
            first = result.fetchmany(QUERY_BATCH)
        except duckdb.Error as exc:
            raise UsageError(f"query failed: {_first_line(exc)}") from None
        if ctx.json:
            twice = sorted({name for name in columns if columns.count(name) > 1})
            if twice:  # one would silently replace the other in each object
                raise UsageError(
                    f"two columns are named {twice[0]!r}, and a JSON object holds a name once",
                    hint="give each column its own name with AS",
                )
        rest = _more_rows(result, len(first))
        if ctx.json:
            ctx.emit_json_items(
                dict(zip(columns, map(_jsonable, row), strict=True))
                for row in itertools.chain(first, rest)
            )
            return 0
        for line in _table(columns, first, rest):
            ctx.emit(line)
    return 0


QUERY_BATCH = 1024
"""Rows fetched and written at a time: a result is streamed, never held whole, so a
query of millions of rows runs in the memory of one batch, and ``| head`` answers at
once. A table's column widths come from the first batch."""


def _more_rows(result: Any, done: int) -> Iterator[tuple[Any, ...]]:
    import duckdb

    while True:
        try:
            batch = result.fetchmany(QUERY_BATCH)
        except duckdb.Error as exc:  # e.g. a cast that fails on a later row
            raise UsageError(f"query failed after {done} rows: {_first_line(exc)}") from None
        if not batch:
            return
        done += len(batch)
        yield from batch


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _jsonable(value: Any) -> Any:
    """A value JSON can carry: NaN and infinities become null, as in JavaScript, and
    bytes their hex (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value.replace("\n", "\\n")
    return json.dumps(_jsonable(value), ensure_ascii=False)


def _table(
    columns: list[str], first: list[tuple[Any, ...]], rest: Iterable[tuple[Any, ...]]
) -> Iterator[str]:
    """The rows as aligned columns. Widths are set by the header and the first batch
    (at most ``CELL_MAX``); a later, longer cell is shown whole up to ``CELL_MAX`` and
    only its row loses alignment, so no value is cut short for arriving late."""
    head = [[_cell(v) for v in row] for row in first]
    widths = [
        min(CELL_MAX, max([len(c)] + [len(r[i]) for r in head])) for i, c in enumerate(columns)
    ]

    def fmt(values: list[str]) -> str:
        out = [v if len(v) <= CELL_MAX else v[: CELL_MAX - 1] + "…" for v in values]
        return "  ".join(v.ljust(w) for v, w in zip(out, widths, strict=True)).rstrip()

    yield fmt(columns)
    yield fmt(["-" * w for w in widths])
    count = 0
    for cells in itertools.chain(head, ([_cell(v) for v in row] for row in rest)):
        count += 1
        yield fmt(cells)
    yield f"({count} row{'s' if count != 1 else ''})"


CELL_MAX = 60
"""The widest a table's cell is shown; a longer value ends in an ellipsis."""


# --- export ----------------------------------------------------------------------


def _void_review(void: list[VoidRange], row: ReviewRow) -> bool:
    if not void:
        return False
    text_void = row.text_seq is not None and is_void(void, row.text_seq, row.text_author or "")
    return text_void or is_void(void, row.verdict_seq, row.verdict_author)


def export(ctx: Context, args: argparse.Namespace) -> int:
    from ledger.projections import claimreview, queries

    with _open(ctx) as projection:
        rows = queries.reviews(projection)
        scale = queries.scale(projection)
        organisation = queries.origin(projection)
        void = _void_ranges(ctx, projection)
    dropped = {r.claim_id for r in rows if _void_review(void, r)}
    if dropped:
        named = sorted(dropped)
        more = f" and {len(named) - 10} more" if len(named) > 10 else ""
        ctx.warn(
            f"left out {len(dropped)} review(s) whose verdict or text a compromised key "
            f"signed (void): {', '.join(named[:10])}{more}; sign them again with a current key"
        )
        rows = [r for r in rows if r.claim_id not in dropped]
    doc = claimreview.document(rows, scale, organisation=organisation, url_template=args.url)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if write_output(ctx, ctx.ledger(), args.output, text):
        plural = "s" if len(rows) != 1 else ""
        ctx.info(f"wrote {len(rows)} ClaimReview object{plural} to {args.output}")
    return 0


__all__ = ["export", "history", "query", "register", "show"]
