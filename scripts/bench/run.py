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

from scripts.bench import baselines, paths  # noqa: E402
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


def fmt(sample: Sample, scale: float = 1.0, unit: str = "") -> str:
    unit = unit or sample.unit
    med, low, high = (v * scale for v in (sample.median, sample.low, sample.high))
    if len(sample.values) == 1:
        return f"{_num(med)} {unit}"
    return f"{_num(med)} {unit} ({_num(low)}–{_num(high)})"


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


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
            f"{_num(peer['append_single'])} /s",
            "—",
            None,
            "baseline",
            None,
        )
    )
    rows.append(
        Row(
            "peer: eventsourcing append, batches of 100",
            f"{_num(peer['append_batch'])} /s",
            "—",
            None,
            "baseline",
            None,
        )
    )
    rows.append(
        Row("peer: eventsourcing replay", f"{_num(peer['replay'])} /s", "—", None, "baseline", None)
    )

    say(f"batch import and generation ({cfg.gen_entries:,} entries)")
    with tempfile.TemporaryDirectory() as tmp:
        imported = paths.import_rate(cfg.gen_entries, Path(tmp))
        gen = paths.generation_rate(cfg.gen_entries, Path(tmp))
    sign = sign_raw["pynacl"]  # the library factledger signs batches with
    rows.append(
        Row(
            f"batch import, Writer.append ({cfg.gen_entries:,} entries)",
            fmt(imported),
            f"pynacl sign {fmt(sign)}",
            imported.median / sign.median,
            "≥ 0.7 × sign rate",
            imported.median / sign.median >= 0.7,
            "factledger signs batches with libsodium (PyNaCl)",
        )
    )
    rows.append(
        Row(
            f"generate_ledger ({cfg.gen_entries:,} entries, synthetic data included)",
            fmt(gen),
            f"peer batch append {_num(peer['append_batch'])} /s",
            gen.median / peer["append_batch"],
            "> 1 × the peer's unsigned SQLite append",
            gen.median > peer["append_batch"],
        )
    )
    rows.append(
        Row(
            "batch import vs the peer's batch append",
            fmt(imported),
            f"peer {_num(peer['append_batch'])} /s",
            imported.median / peer["append_batch"],
            "> 1 × the peer's unsigned append",
            imported.median > peer["append_batch"],
        )
    )

    startup = paths.python_startup(max(5, cfg.repeats * 2))
    for size in cfg.sizes:
        rows += measure_size(cfg, size, fastest_lib, fastest, startup, notes)

    write_report(cfg, rows, notes)
    say(f"wrote {cfg.out}")
    return 0


def measure_size(
    cfg: Config, size: int, fastest_lib: str, fastest: Sample, startup: Sample, notes: list[str]
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
                f"{_num(made.seconds)} s",
                "—",
                None,
                "minutes, not hours",
                made.seconds < 3600,
            )
        )
    say("  full verify")
    full, peak, _ = paths.verify_full(made.root, cfg.repeats)
    rate = full.per_second(size)
    ratio = rate.median / fastest.median
    rows.append(
        Row(
            f"full verify, all cores ({size:,})",
            fmt(rate),
            f"raw {fastest_lib} verify, all cores {fmt(fastest)}",
            ratio,
            "≥ 0.8 × raw verify rate",
            ratio >= 0.8,
        )
    )
    rows.append(
        Row(
            f"full verify peak memory, main process ({size:,})",
            f"{peak:,.0f} MiB",
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
        ratio = since.median / full.median
        rows.append(
            Row(
                f"verify --since, 100 new entries ({size:,})",
                fmt(since),
                f"full verify {fmt(full)}",
                ratio,
                "≤ 0.15 × full verify",
                ratio <= 0.15,
            )
        )
        say("  claim add, end to end")
        add = paths.claim_add(ledger, admin, cfg.repeats)
        ratio = add.median / startup.median
        rows.append(
            Row(
                f"one `factledger claim add` process ({size:,})",
                fmt(add),
                f"python -c 'import msgspec, cryptography' {fmt(startup)}",
                ratio,
                "≤ 2 × start-up",
                ratio <= 2,
            )
        )
        say("  projections")
        read_json = baselines.duckdb_read_json(ledger.events_path, cfg.repeats)
        proj = paths.projections(ledger, admin, cfg.repeats, cfg.queries)
        ratio = proj.rebuild.median / read_json.median
        rows.append(
            Row(
                f"projection full rebuild ({size:,})",
                fmt(proj.rebuild),
                f"DuckDB read_json {fmt(read_json)}",
                ratio,
                "≤ 2.5 × read_json",
                ratio <= 2.5,
            )
        )
        ratio = proj.catch_up.median / proj.rebuild.median
        rows.append(
            Row(
                f"projection catch-up, one new entry ({size:,})",
                fmt(proj.catch_up, 1000, "ms"),
                f"rebuild {fmt(proj.rebuild)}",
                ratio,
                "≤ 0.01 × rebuild",
                ratio <= 0.01,
            )
        )
        rows.append(
            Row(
                f"as-of query, one claim ({size:,})",
                fmt(proj.as_of, 1000, "ms"),
                "—",
                None,
                "≤ 5 ms",
                proj.as_of.median <= 0.005,
            )
        )
        rows.append(
            Row(
                f"claims page at the cursor ({size:,})",
                fmt(proj.page, 1000, "ms"),
                "—",
                None,
                "≤ 20 ms",
                proj.page.median <= 0.020,
            )
        )
        rows += tui_latency(ledger.root, size, notes)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return rows


def tui_latency(root: Path, size: int, notes: list[str]) -> list[Row]:
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
        "is against a baseline measured in the same run. See the analysis below the table.",
        "",
        "| path | figure | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.3g}"
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        note = f" ({r.note})" if r.note else ""
        lines.append(
            f"| {r.path}{note} | {r.figure} | {r.baseline} | {ratio} | {r.target} | {met} |"
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
