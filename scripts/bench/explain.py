"""Why a target was not met, from the run's own figures, and what would meet it.

Pure functions of the samples ``run.py`` measured: each returns the text of a
table row's last cell (empty where the caller found the target met).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from scripts.bench.measure import Sample

if TYPE_CHECKING:
    from scripts.bench.paths import ProjectionFigures


def num(value: float) -> str:
    """A figure to three significant digits, thousands separated from 100 up."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def lookup(sample: Sample) -> str:
    """Why an as-of query or a page missed its latency target: its fastest call."""
    return (
        f"the fastest call took {sample.low * 1000:.1f} ms: the query is a few index "
        "lookups, and the median carries the machine's load (see the load average below)"
    )


def verify(size: int, cpu: Sample, fastest: Sample, strict: float) -> str:
    """Where verify's CPU goes per entry, against what the 0.8 target leaves."""
    cores = os.cpu_count() or 1
    sig = cores * 1e6 / fastest.median  # CPU µs per signature when every core checks them
    spent = cpu.median * 1e6 / size
    budget = sig * (1 / 0.8 - 1)
    decode = strict * 1e6 / size
    return (
        f"verify spent {spent:.0f} µs of CPU per entry (all its processes); a signature "
        f"costs {sig:.0f} µs, so 0.8× leaves {budget:.0f} µs for everything else, and the "
        f"strict decode and digest alone take {decode:.0f} µs in Python, before the rule "
        f"fold, the Merkle edge and the hand-off to the workers "
        f"({max(0.0, spent - sig - decode):.0f} µs). Would meet it: the decode, digest and "
        f"fold compiled (a C or Rust extension), {max(1.0, (spent - sig) / budget):.1f}× less "
        "CPU than they take now"
    )


def batch_import(imported: Sample, sign: Sample, close_s: float, entries: int, worker: bool) -> str:
    """Where an imported entry's time goes, against what the 0.7 target leaves."""
    if imported.median / sign.median >= 0.7:
        return ""
    signing = 1e6 / sign.median
    per = 1e6 / imported.median
    save = close_s * 1e6 / entries
    compiled = "the compiled fold that would meet verify's target"
    cure = f"Would meet it: {compiled}"
    if worker:
        allowed = 1e6 / (0.7 * sign.median)
        over = per - allowed
        if save > over:
            cure = (
                f"Would meet it: {over:.0f} µs an entry less of the writer's work, which a "
                f"close (mostly the state cache's save) that much cheaper would be, or {compiled}"
            )
        return (
            f"an entry takes {per:.0f} µs of the writer's time; signing it ({signing:.0f} µs) "
            f"runs mostly beside the writer in a second process, so 0.7× the sign rate allows "
            f"{allowed:.0f} µs an entry for the writer's own work alone: the schema check, "
            f"the rule fold, the Merkle edge, the line and the hand-offs ({per - save:.0f} µs "
            f"in Python) and, at the end, the writer's close, mostly the state cache's save "
            f"({save:.0f} µs). {cure}"
        )
    return (
        f"an entry takes {per:.0f} µs, of which signing {signing:.0f} µs; 0.7× leaves "
        f"{signing * (1 / 0.7 - 1):.0f} µs for the rest (schema check, rule fold, Merkle "
        f"edge, the line and, at the end, the writer's close, {save:.0f} µs), which takes "
        f"{per - signing:.0f} µs in Python. {cure}"
    )


def peer(ours: Sample, sign: Sample, peer: dict[str, float]) -> str:
    """Why an import or generation rate is below the peer's unsigned SQLite append."""
    return (
        f"the peer stores an unsigned row in {1e6 / peer['append_batch']:.0f} µs; an entry "
        f"here takes {1e6 / ours.median:.0f} µs, {1e6 / sign.median:.0f} µs of it signing and "
        "the rest the schema check, the rule fold, the Merkle edge, the line and, at the "
        "end, the state cache's rows in SQLite. Would meet it: the compiled fold that "
        "would meet verify's target"
    )


def rebuild(rebuild: Sample, read_json: Sample, strict: float) -> str:
    """Why the rebuild is slower than DuckDB's read, from the strict pass alone."""
    floor = strict / read_json.median
    cure = (
        "the strict pass compiled and the interval tables built by DuckDB alone from "
        "read_json's rows"
        if floor > 2.5
        else "fewer and cheaper SQL steps: the interval tables built straight from read_json's rows"
    )
    return (
        f"decoding and digesting every line alone takes {num(strict)} s, {floor:.1f}× "
        "read_json (the strict pass a rebuild makes before it trusts a line also hashes the "
        f"file and the Merkle edge), and the rebuild takes {num(rebuild.median - strict)} s "
        "more: DuckDB's SQL over the read models (as-of intervals, claim states, the ranked "
        f"list), which runs beside that pass, and writing the file. Would meet it: {cure}"
    )


def catch_up(catch: Sample, size: int) -> str:
    """Why one entry's catch-up (the cheap check alone) is over a hundredth of a rebuild."""
    return (
        f"one entry still costs {catch.median * 1000:.0f} ms: staging it, the SQL steps its "
        f"kind needs over tables of {size:,} rows, the meta row and the commit, while a "
        "small log's rebuild is short; the target is set at 1,000,000 entries"
    )


def full_catch_up(proj: ProjectionFigures, size: int, nbytes: int) -> str:
    """Why a read's catch-up, which re-hashes the applied prefix, is over the target."""
    hashing = proj.catch_up_full.median - proj.catch_up.median
    if hashing <= 0:
        return catch_up(proj.catch_up_full, size)
    return (
        f"{hashing * 1000:.0f} ms of it is reading and hashing the {nbytes / 1e6:,.0f} MB "
        "prefix again, to prove no projected line changed in place; the cheap check (row "
        "above) skips it. Would meet it: trusting the stored piece digests unless the "
        "file's identity changed, which would miss an equal-length edit in place (verify "
        "still finds one)"
    )
