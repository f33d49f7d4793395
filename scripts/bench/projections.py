"""Benchmark the DuckDB projections (DESIGN §9, §12) on a large ledger.

Usage::

    python scripts/bench/projections.py [--entries N] [--ledger DIR] [--work DIR]

Generates a valid ledger of N entries (default 100,000) with
``scripts/generate_ledger.py`` (or, with ``--ledger``, copies an existing one), then
prints, measured in the same run on the same file:

- DuckDB's own ``read_json`` of the events file into a table (the floor of a
  DuckDB-only load) and ``read_csv`` of its raw lines (what the rebuild reads);
- the strict Python pass alone (``decode_entry`` + ``event_id`` per line);
- a full rebuild into the cache file, and into memory;
- catch-up after one new entry, and a refresh with nothing new;
- ``claim_state`` as of random positions, and a 50-row claims page (median, p95),
  also at a random offset up to 500 (what the TUI's cursor reads);
- the ratios the benchmark targets (issue 7) are about: rebuild / ``read_json``
  (target 2.5) and catch-up / rebuild (target 0.01).

The ledger is always worked on in a scratch copy: the catch-up measurement
truncates and restores its log.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from ledger.ledger import Ledger  # noqa: E402
from ledger.projections import open_projection, queries  # noqa: E402
from ledger.projections._scan import Scan  # noqa: E402

COLUMNS = (
    "{'at': 'VARCHAR', 'author': 'VARCHAR', 'body': 'JSON', 'body_hash': 'VARCHAR', "
    "'kind': 'VARCHAR', 'parent': 'VARCHAR', 'sig': 'VARCHAR', 'subject': 'VARCHAR', "
    "'v': 'BIGINT'}"
)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def latencies(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and 95th percentile of ``runs`` calls, in milliseconds."""
    times = sorted(timed(fn) * 1000 for _ in range(runs))
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def make_ledger(entries: int, work: Path, source: Path | None) -> Ledger:
    root = work / "ledger"
    if source is not None:
        src = Ledger.open(source)
        root.mkdir(parents=True)
        shutil.copy2(source / "ledger.toml", root / "ledger.toml")
        shutil.copy2(src.events_path, root / src.config.events)
        return Ledger.open(root)
    from scripts.generate_ledger import generate

    print(f"generating {entries:,} entries ...", file=sys.stderr, flush=True)
    made = generate(entries, root)
    print(f"generated in {made.seconds:.1f}s", file=sys.stderr, flush=True)
    return Ledger.open(root)


def duckdb_reads(path: Path) -> tuple[float, float]:
    con = duckdb.connect()
    json_s = timed(
        lambda: con.execute(
            "CREATE TABLE j AS SELECT * FROM read_json($1, format = 'newline_delimited', "
            f"columns = {COLUMNS})",
            [str(path)],
        )
    )
    csv_s = timed(
        lambda: con.execute(
            "CREATE TABLE c AS SELECT line FROM read_csv($1, columns = {'line': 'VARCHAR'}, "
            "delim = '\\x01', quote = '', escape = '', header = false, auto_detect = false, "
            "max_line_size = 4000000)",
            [str(path)],
        )
    )
    con.close()
    return json_s, csv_s


def run(entries: int, work: Path, source: Path | None) -> None:
    led = make_ledger(entries, work, source)
    path = led.events_path
    size = path.stat().st_size
    rows: list[tuple[str, str]] = []

    def report(what: str, value: str) -> None:
        rows.append((what, value))
        print(f"{what:<44} {value}", flush=True)

    n_lines = sum(1 for _ in path.open("rb"))
    report("entries / file size", f"{n_lines:,} / {size / 1e6:,.1f} MB")
    json_s, csv_s = duckdb_reads(path)
    report("DuckDB read_json of the file (floor)", f"{json_s:8.2f} s")
    report("DuckDB read_csv of raw lines", f"{csv_s:8.2f} s")
    report("Python strict pass (decode + id)", f"{timed(lambda: Scan(path).run()):8.2f} s")

    shutil.rmtree(led.cache_dir, ignore_errors=True)
    start = time.perf_counter()
    projection = open_projection(led, refresh=False)
    done = projection.refresh()
    rebuild_s = time.perf_counter() - start
    assert done.action == "rebuilt", done
    report("rebuild into the cache file", f"{rebuild_s:8.2f} s ({n_lines / rebuild_s:,.0f}/s)")
    projection.close()
    memory_s = timed(lambda: open_projection(led, in_memory=True).close())
    report("rebuild in memory", f"{memory_s:8.2f} s")

    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[:last])
    open_projection(led).close()  # projects all but the last entry
    path.write_bytes(data)
    time.sleep(0.01)
    projection = open_projection(led, refresh=False)
    start = time.perf_counter()
    done = projection.refresh()
    catch_s = time.perf_counter() - start
    assert (done.action, done.applied) == ("caught-up", 1), done
    report("catch-up of one new entry (full check)", f"{catch_s * 1000:8.1f} ms")
    report("  rebuild / DuckDB read_json (target 2.5)", f"{rebuild_s / json_s:8.2f}")
    report("  catch-up / rebuild (target 0.01)", f"{catch_s / rebuild_s:8.4f}")
    path.write_bytes(data[:last])
    projection.refresh()
    path.write_bytes(data)
    start = time.perf_counter()
    done = projection.refresh(full_check=False)
    quick_s = time.perf_counter() - start
    assert done.action == "caught-up", done
    report("catch-up of one new entry (quick check)", f"{quick_s * 1000:8.1f} ms")
    unchanged = latencies(lambda: projection.refresh(), 5)[0]
    report("refresh with nothing new", f"{unchanged:8.1f} ms")

    rand = random.Random(1)
    with projection.cursor() as cur:
        sql = "SELECT claim_id, min(seq_from) FROM claims GROUP BY 1 ORDER BY 1"
        born = dict(cur.execute(sql).fetchall())
    claims = list(born)
    head = queries.size(projection) - 1

    def as_of() -> None:
        claim = rand.choice(claims)
        queries.claim_state(projection, claim, as_of=rand.randint(born[claim], head))

    med, p95 = latencies(as_of, 100)
    report("claim_state as of a random position", f"{med:8.1f} ms median, {p95:.1f} ms p95")

    def page() -> None:
        queries.list_claims(projection, as_of=rand.randint(0, head), limit=50)

    med, p95 = latencies(page, 30)
    report("claims page (50 rows) as of a random position", f"{med:8.1f} ms median, {p95:.1f} p95")

    def page_at_cursor() -> None:
        n = rand.randint(head // 2, head)
        queries.list_claims(projection, as_of=n, limit=50, offset=rand.randrange(0, 500))

    med, p95 = latencies(page_at_cursor, 100)
    report("claims page at a cursor (offset < 500)", f"{med:8.1f} ms median, {p95:.1f} p95")

    def page_now() -> None:
        queries.list_claims(projection, limit=50, offset=rand.randint(0, len(claims) - 50))

    med, p95 = latencies(page_now, 30)
    report("claims page (50 rows) now, random offset", f"{med:8.1f} ms median, {p95:.1f} p95")
    projection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000, help="entries to generate")
    parser.add_argument("--ledger", type=Path, help="benchmark a copy of this ledger instead")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        run(args.entries, Path(tempfile.mkdtemp(dir=args.work)), args.ledger)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        run(args.entries, Path(tmp), args.ledger)
    return 0


if __name__ == "__main__":
    sys.exit(main())
