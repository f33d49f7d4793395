"""The benchmark suite: every figure next to its baseline, measured in the same run.

    python -m scripts.bench            # 100,000 and 1,000,000 entries; writes docs/benchmarks.md
    python -m scripts.bench --quick    # small sizes: a smoke test of the suite, not a measurement

Ledgers are generated once under ``bench-data/`` (git-ignored) and reused; the
generation *rate* is measured afresh in every run. Nothing here asserts timings:
the report states each target and whether this run met it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger import signpool  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from scripts import sealing  # noqa: E402
from scripts.bench import baselines, explain, paths  # noqa: E402
from scripts.bench.measure import Sample, machine  # noqa: E402


@dataclass(frozen=True)
class Row:
    path: str
    figure: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None
    note: str = ""
    why: str = ""
    """For a target not met: why not, from figures of this run, and what would meet it."""


def fmt(sample: Sample, scale: float = 1.0, unit: str = "") -> str:
    unit = unit or sample.unit
    med, low, high = (v * scale for v in (sample.median, sample.low, sample.high))
    if len(sample.values) == 1:
        return f"{explain.num(med)} {unit}"
    return f"{explain.num(med)} {unit} ({explain.num(low)}–{explain.num(high)})"


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...]
    gen_entries: int
    repeats: int
    crypto_n: int
    peer_single: int
    peer_batch: int
    queries: int
    data: Path
    out: Path


def configure(args: argparse.Namespace) -> Config:
    if args.quick:
        return Config((2_000,), 1_000, 2, 2_000, 200, 1_000, 20, args.data, args.out)
    return Config(
        tuple(args.sizes), 100_000, args.repeats, 20_000, 5_000, 100_000, 200, args.data, args.out
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI smoke tests")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    cfg = configure(parser.parse_args(argv))
    rows: list[Row] = []
    notes: list[str] = []
    say = _say

    notes.append(
        f"Load average before the run began: {os.getloadavg()[0]:.2f} (the machine's other "
        "work; 2 would mean both cores busy)."
    )
    say("baselines: Ed25519, SHA-256, the eventsourcing peer")
    cores = os.cpu_count() or 1
    verify_raw = {
        (lib, procs): baselines.verify_rate(lib, procs, cfg.crypto_n, cfg.repeats)
        for lib in ("pyca", "pynacl")
        for procs in (1, cores)
    }
    sign_raw = {
        lib: baselines.sign_rate(lib, cfg.crypto_n, cfg.repeats) for lib in ("pyca", "pynacl")
    }
    sha = baselines.sha256_rate(cfg.crypto_n * 5, cfg.repeats)
    peer = baselines.peer(cfg.peer_single, cfg.peer_batch)
    fastest_lib = max(("pyca", "pynacl"), key=lambda lib: verify_raw[(lib, cores)].median)
    fastest = verify_raw[(fastest_lib, cores)]
    for (lib, procs), sample in verify_raw.items():
        rows.append(
            Row(
                f"raw Ed25519 verify, {lib}, {procs} process(es)",
                fmt(sample),
                "—",
                None,
                "baseline",
                None,
            )
        )
    for lib, sample in sign_raw.items():
        rows.append(
            Row(f"raw Ed25519 sign, {lib}, 1 process", fmt(sample), "—", None, "baseline", None)
        )
    rows.append(Row("SHA-256 of 420-byte messages", fmt(sha), "—", None, "baseline", None))
    rows.append(
        Row(
            "peer: eventsourcing append, one aggregate at a time",
            f"{explain.num(peer['append_single'])} /s",
            "—",
            None,
            "baseline",
            None,
        )
    )
    rows.append(
        Row(
            "peer: eventsourcing append, batches of 100",
            f"{explain.num(peer['append_batch'])} /s",
            "—",
            None,
            "baseline",
            None,
        )
    )
    rows.append(
        Row(
            "peer: eventsourcing replay",
            f"{explain.num(peer['replay'])} /s",
            "—",
            None,
            "baseline",
            None,
        )
    )

    say(f"batch import and generation ({cfg.gen_entries:,} entries)")
    with tempfile.TemporaryDirectory() as tmp:
        figures = paths.import_rate(cfg.gen_entries, Path(tmp), cfg.repeats)
        generated = paths.generation_rate(cfg.gen_entries, Path(tmp), cfg.repeats)
    gen = generated.rate
    imported = figures.rate
    worker = figures.worker_signed > 0
    sign = sign_raw["pynacl"]  # the library factledger signs batches with
    rows.append(
        Row(
            f"batch import, Writer.append ({cfg.gen_entries:,} entries)",
            fmt(imported),
            f"pynacl sign {fmt(sign)}",
            imported.median / sign.median,
            "≥ 0.7 × sign rate",
            imported.median / sign.median >= 0.7,
            _signed_by(figures, min(cfg.gen_entries, paths.IMPORT_BATCH)),
            explain.batch_import(imported, sign, figures.close_s, cfg.gen_entries, worker),
        )
    )
    rows.append(
        Row(
            f"generate_ledger ({cfg.gen_entries:,} entries, synthetic data included) "
            f"({_sealed_by(generated, cfg.gen_entries)})",
            fmt(gen),
            f"peer batch append {explain.num(peer['append_batch'])} /s",
            gen.median / peer["append_batch"],
            "> 1 × the peer's unsigned SQLite append",
            gen.median > peer["append_batch"],
            why=explain.peer(gen, sign, peer) if gen.median <= peer["append_batch"] else "",
        )
    )
    rows.append(
        Row(
            "batch import vs the peer's batch append",
            fmt(imported),
            f"peer {explain.num(peer['append_batch'])} /s",
            imported.median / peer["append_batch"],
            "> 1 × the peer's unsigned append",
            imported.median > peer["append_batch"],
            why=(
                explain.peer(imported, sign, peer)
                if imported.median <= peer["append_batch"]
                else ""
            ),
        )
    )

    paths.compile_bytecode()
    for size in cfg.sizes:
        rows += measure_size(cfg, size, fastest_lib, fastest, notes)

    write_report(cfg, rows, notes)
    say(f"wrote {cfg.out}")
    return 0


def _sealed_by(figures: paths.GenerationFigures, entries: int) -> str:
    """Who sealed the generated entries, and why only the generator if so."""
    if figures.sealed_by_worker:
        return (
            f"a second process sealed {figures.sealed_by_worker:,} of them and the generator "
            f"the other {entries - figures.sealed_by_worker:,} (a fixed share of the "
            "subject streams, and the genesis entry Ledger.init writes)"
        )
    if entries < sealing.FORK_AT:
        return f"under {sealing.FORK_AT:,} entries, all sealed by the generator"
    return "no worker started (one core, other threads ran, or no fork): all sealed inline"


def _signed_by(figures: paths.ImportFigures, batch: int) -> str:
    """Who signed the imported batches, and why not a second process if it did not."""
    if figures.worker_signed:
        return (
            f"a second process signed {figures.worker_signed:,} of them and the writer "
            f"{figures.writer_signed:,} (chunks it needed at once, each batch's last among "
            "them, or made while the worker was behind), with libsodium (PyNaCl)"
        )
    if batch < signpool.PARALLEL_AT:
        why = f"batches under {signpool.PARALLEL_AT:,} entries are"
    elif signpool.usable_cores() < 2:
        why = "one core: every batch is"
    else:
        why = "no worker started (other threads ran, or no fork): every batch was"
    return f"{why} signed inline, with libsodium (PyNaCl)"


def measure_size(
    cfg: Config, size: int, fastest_lib: str, fastest: Sample, notes: list[str]
) -> list[Row]:
    rows: list[Row] = []
    say = _say
    say(f"ledger of {size:,} entries")
    made = paths.ensure_ledger(size, cfg.data)
    if made.seconds is not None:
        when = "an earlier run, reused" if made.reused else "this run"
        rows.append(
            Row(
                f"generate {size:,} entries ({when})",
                f"{explain.num(made.seconds)} s",
                "—",
                None,
                "minutes, not hours",
                made.seconds < 3600,
            )
        )
    say("  full verify")
    full = paths.verify_full(made.root, cfg.repeats)
    rate = full.seconds.per_second(size)
    ratio = rate.median / fastest.median
    say("  the strict pass alone")
    strict = paths.strict_pass(Ledger.open(made.root).events_path)
    rows.append(
        Row(
            f"full verify, all cores ({size:,})",
            fmt(rate),
            f"raw {fastest_lib} verify, all cores {fmt(fastest)}",
            ratio,
            "≥ 0.8 × raw verify rate",
            ratio >= 0.8,
            why=explain.verify(size, full.cpu, fastest, strict) if ratio < 0.8 else "",
        )
    )
    rows.append(
        Row(
            f"full verify peak memory, largest process ({size:,})",
            f"{full.peak_rss_mib:,.0f} MiB",
            "—",
            None,
            "flat in log size",
            None,
        )
    )
    work = Path(tempfile.mkdtemp(prefix="factledger-bench-"))
    try:
        ledger = paths.scratch_copy(made.root, work)
        admin = made.keys[paths.ADMIN]
        say("  verify --since with 100 new entries")
        since = paths.verify_since(ledger, admin, 100, cfg.repeats)
        ratio = since.median / full.seconds.median
        rows.append(
            Row(
                f"verify --since, 100 new entries ({size:,})",
                fmt(since),
                f"full verify {fmt(full.seconds)}",
                ratio,
                "≤ 0.15 × full verify",
                ratio <= 0.15,
                why=(
                    f"the old prefix is still read and hashed, {size / since.median:,.0f} "
                    "lines/s with the process's start-up, checkpoint and policy reads, a "
                    "fixed cost that outweighs a short log's full verify"
                    if ratio > 0.15
                    else ""
                ),
            )
        )
        say("  claim add, end to end")
        add, startup = paths.claim_add(ledger, admin, max(10, cfg.repeats * 3))
        ratio = add.median / startup.median
        rows.append(
            Row(
                f"one `factledger claim add` process ({size:,})",
                fmt(add),
                f"python -c 'import msgspec, cryptography' {fmt(startup)}",
                ratio,
                "≤ 2 × start-up",
                ratio <= 2,
                "alternating with the baseline",
                why=(
                    f"{(add.median - startup.median) * 1000:.0f} ms beyond the baseline: the "
                    "ledger's modules, sqlite3, the key file and the cached fold"
                    if ratio > 2
                    else ""
                ),
            )
        )
        say("  projections")
        read_json = baselines.duckdb_read_json(ledger.events_path, cfg.repeats)
        proj = paths.projections(ledger, admin, cfg.repeats, cfg.queries)
        rows += projection_rows(size, proj, read_json, strict, ledger.events_path.stat().st_size)
        rows += tui_latency(ledger.root, size, notes, proj)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return rows


def projection_rows(
    size: int, proj: paths.ProjectionFigures, read_json: Sample, strict: float, nbytes: int
) -> list[Row]:
    rows: list[Row] = []
    ratio = proj.rebuild.median / read_json.median
    rows.append(
        Row(
            f"projection full rebuild ({size:,})",
            fmt(proj.rebuild),
            f"DuckDB read_json {fmt(read_json)}",
            ratio,
            "≤ 2.5 × read_json",
            ratio <= 2.5,
            why=explain.rebuild(proj.rebuild, read_json, strict) if ratio > 2.5 else "",
        )
    )
    catch_ups = (
        (proj.catch_up, "the cheap check alone: size, last entry and its id",
         explain.catch_up(proj.catch_up, size)),
        (proj.catch_up_full, "as every read refreshes: also the BLAKE3 of the whole projected "
         "prefix", explain.full_catch_up(proj, size, nbytes)),
    )  # fmt: skip
    for sample, how, why in catch_ups:
        ratio = sample.median / proj.rebuild.median
        rows.append(
            Row(
                f"projection catch-up, one new entry ({size:,})",
                fmt(sample, 1000, "ms"),
                f"rebuild {fmt(proj.rebuild)}",
                ratio,
                "≤ 0.01 × rebuild",
                ratio <= 0.01,
                how,
                why=why if ratio > 0.01 else "",
            )
        )
    rows.append(_latency_row(f"as-of query, one claim ({size:,})", proj.as_of, 5))
    rows.append(_latency_row(f"claims page at the cursor ({size:,})", proj.page, 20))
    return rows


def _latency_row(path: str, sample: Sample, limit_ms: int) -> Row:
    met = sample.median <= limit_ms / 1000
    return Row(
        path,
        fmt(sample, 1000, "ms"),
        "—",
        None,
        f"≤ {limit_ms} ms",
        met,
        why="" if met else explain.lookup(sample),
    )


def tui_latency(
    root: Path, size: int, notes: list[str], proj: paths.ProjectionFigures
) -> list[Row]:
    """Key press to repaint when stepping the cursor (scripts/bench/tui_latency.py)."""
    try:
        from scripts.bench import tui_latency as tui
    except ImportError as exc:
        notes.append(f"TUI latency not measured: {exc}")
        return []
    import asyncio

    result = asyncio.run(tui.measure(root, presses=50))
    sample = Sample(tuple(result.samples))
    return [
        Row(
            f"TUI: key press to repaint, stepping ({size:,})",
            fmt(sample, 1000, "ms"),
            "—",
            None,
            "≤ 50 ms median",
            sample.median <= 0.050,
            why=(
                f"the reads behind one step (claim as of the cursor, the visible page) take "
                f"{(proj.as_of.median + proj.page.median) * 1000:.0f} ms of it; the rest is "
                "Textual's layout and render of three panes, and the machine's load"
                if sample.median > 0.050
                else ""
            ),
        )
    ]


def write_report(cfg: Config, rows: list[Row], notes: list[str]) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Measured {when} by `python -m scripts.bench"
        f"{' --quick' if cfg.out.name != 'benchmarks.md' else ''}` on: {machine()}.",
        "",
        "Each figure is the median of the run's repeats, with min–max in brackets; each ratio "
        "is against a baseline measured in the same run. Targets are for the "
        "1,000,000-entry ledger unless a row says otherwise; the 100,000-entry rows show how "
        "each path scales. The project's modules are byte-compiled first, as an install does. "
        "See the analysis below the table.",
        "",
        "| path | figure | baseline | ratio | target | met | if not: why, and what would meet it |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.3g}"
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.path}{note} | {r.figure} | {r.baseline} | {ratio} | {r.target} | {met} "
            f"| {r.why or ''} |"
        )
    lines += ["", *[f"- {n}" for n in notes]]
    analysis = cfg.out.with_name("benchmarks-analysis.md")
    if analysis.exists():
        lines += ["", analysis.read_text(encoding="utf-8").strip()]
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    raise SystemExit(main())
