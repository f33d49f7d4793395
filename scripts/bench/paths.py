"""factledger's own paths, measured on generated ledgers (see run.py for the targets)."""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ledger.events import ClaimAssertedBody, NoteAddedBody, SourceRegisteredBody
from ledger.keys import SigningKey, save_signing_key
from ledger.ledger import Draft, Ledger, new_id, new_salt
from scripts.bench.measure import PYTHON, Sample, repeat, run_command
from scripts.generate_ledger import MIN_ENTRIES, generate, persona_keys

FACTLEDGER = str(Path(sys.executable).with_name("factledger"))
ROOT = Path(__file__).resolve().parents[2]
ADMIN = "olga-owner"


@dataclass(frozen=True)
class Generated:
    root: Path
    entries: int
    seconds: float | None
    """How long generating it took (in an earlier run when ``reused``)."""
    keys: dict[str, SigningKey]
    reused: bool = False


def ensure_ledger(entries: int, data: Path) -> Generated:
    """The generated ledger of ``entries`` under ``data``, generated now if it is missing."""
    root = data / f"ledger-{entries}"
    meta = data / f"ledger-{entries}.json"
    reusable = (root / "ledger.toml").exists() and meta.exists()
    if reusable:
        info = json.loads(meta.read_text())
        if info.get("entries") == entries:
            return Generated(root, entries, info.get("seconds"), persona_keys(), reused=True)
    return _generate(entries, root, meta)


def _generate(entries: int, root: Path, meta: Path) -> Generated:
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    made = generate(entries, root)
    meta.write_text(json.dumps({"entries": entries, "seconds": made.seconds}))
    return Generated(root, entries, made.seconds, made.keys)


@dataclass(frozen=True)
class GenerationFigures:
    """Generation's rate, and how many entries a forked worker sealed in the median run."""

    rate: Sample
    """Entries per second, from the first entry to the closed writer."""
    sealed_by_worker: int
    """Entries :mod:`scripts.sealing`'s worker sealed; the generator sealed the rest."""


def generation_rate(entries: int, scratch: Path, repeats: int) -> GenerationFigures:
    """Entries per second of fresh generations (make up, seal, check, write), each into a
    new directory; the first module use is warmed up by a small generation first."""
    generate(MIN_ENTRIES, scratch / "gen-warm-up")
    shutil.rmtree(scratch / "gen-warm-up")
    runs: list[tuple[float, int]] = []
    for i in range(repeats):
        target = scratch / f"gen-{entries}-{i}"
        made = generate(entries, target)
        shutil.rmtree(target)
        runs.append((entries / made.seconds, made.sealed_by_worker))
    median = sorted(runs)[len(runs) // 2]
    return GenerationFigures(Sample(tuple(r[0] for r in runs), "/s"), median[1])


@dataclass(frozen=True)
class ImportFigures:
    """A batch import's rate, how long the writer's close took, and who signed."""

    rate: Sample
    """Entries per second, end to end (the close included)."""
    close_s: float
    """Seconds the writer's close took: the state cache's save, the checkpoint, the lock."""
    worker_signed: int
    """Entries a second process signed (:mod:`ledger.signpool`); 0: all inline."""
    writer_signed: int = 0
    """Entries of the worker's batches the writer signed itself (it was behind, or the
    chunk was needed at once)."""


IMPORT_BATCH = 5000
"""Drafts per ``Writer.append`` in the import benchmark."""


def import_rate(
    entries: int, scratch: Path, repeats: int, batch: int = IMPORT_BATCH
) -> ImportFigures:
    """Batch import: ``Writer.append`` of prepared drafts (sign, check, write), one fsync a batch.

    The drafts (claims with 150-character texts) are built once, before any clock
    starts: this is the ledger's own work per entry, which the sign rate bounds.
    After a warm-up batch, each repeat imports them all into a new ledger; the close
    and who signed are the median repeat's.
    """
    rng = random.Random(3)
    owner = persona_keys()[ADMIN]
    drafts = [
        Draft(
            "claim.asserted",
            new_id("clm_", rng.randbytes),
            ClaimAssertedBody(
                salt=new_salt(rng.randbytes),
                text="".join(rng.choices("abcdefghij klmnop qrstuv wxyz", k=150)),
                kind="factual",
                claimant="an importer",
                appearance=None,
                topics=["import"],
            ),
        )
        for _ in range(entries)
    ]
    runs: list[tuple[float, float, int, int]] = []
    for i in range(-1, repeats):  # -1: a warm-up of one batch (the modules' first use)
        some = drafts[:batch] if i < 0 else drafts
        root = scratch / f"import-{entries}-{i}"
        ledger = Ledger.init(
            root,
            origin="example.org/import",
            key=owner,
            owner_name="Owner",
            at="2024-01-01T00:00:00Z",
            rng=random.Random(i).randbytes,
        )
        signed = here = 0
        start = time.perf_counter()
        with ledger.writer() as writer:
            for j in range(0, len(some), batch):
                writer.append(some[j : j + batch], owner, at="2024-01-02T00:00:00Z")
            if writer.pool is not None:
                signed, here = writer.pool.signed, writer.pool.signed_here
            closing = time.perf_counter()
        closed = time.perf_counter()
        shutil.rmtree(root)
        if i >= 0:
            runs.append((entries / (closed - start), closed - closing, signed, here))
    runs.sort()
    median = runs[len(runs) // 2]
    return ImportFigures(Sample(tuple(r[0] for r in runs), "/s"), *median[1:])


@dataclass(frozen=True)
class VerifyFigures:
    seconds: Sample
    peak_rss_mib: float
    cpu: Sample
    """CPU seconds of each run: the main process and its signature workers."""


def verify_full(root: Path, repeats: int) -> VerifyFigures:
    """``factledger verify`` on all cores: wall and CPU seconds per run, and the peak RSS."""
    runs = [
        run_command(
            [FACTLEDGER, "verify", str(root), "--unsafe-allow-test-keys", "--format", "json"],
            peak_rss=True,
        )
        for _ in range(repeats)
    ]
    for run in runs:
        if run.returncode != 0:
            raise RuntimeError(f"verify failed: {run.stdout[:500]!r} {run.stderr[:500]!r}")
    return VerifyFigures(
        Sample(tuple(r.seconds for r in runs)),
        max(r.peak_rss_mib for r in runs),
        Sample(tuple(r.cpu_seconds for r in runs)),
    )


def strict_pass(path: Path) -> float:
    """Seconds to decode every line strictly and compute its id and signed header, alone.

    The part of verify's main-process work (and of a projection rebuild) that no
    rule and no signature check is in: ``codec.decode_entry`` and
    ``prefix.line_digest`` per line, in one process.
    """
    from ledger import log, prefix
    from ledger.codec import decode_entry

    start = time.perf_counter()
    for line in log.scan(path):
        decode_entry(line.data, lineno=line.index + 1)
        prefix.line_digest(line.data)
    return time.perf_counter() - start


def scratch_copy(root: Path, scratch: Path) -> Ledger:
    target = scratch / f"{root.name}-scratch"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(".cache"))
    return Ledger.open(target)


def append_sources(ledger: Ledger, key: SigningKey, count: int, seed: int = 1) -> None:
    """Append ``count`` entries signed by ``key`` under one lock (a small import)."""
    rng = random.Random(seed)
    with ledger.writer() as writer:
        stamp = _after(writer.snapshot.state.last_at)
        drafts = [
            Draft(
                "source.registered",
                new_id("src_", rng.randbytes),
                SourceRegisteredBody(
                    salt=new_salt(rng.randbytes),
                    title=f"Benchmark source {i}",
                    kind="report",
                    publisher=None,
                    url=None,
                    published=None,
                    reliability="C",
                    archive_url=None,
                    content_sha256=None,
                ),
            )
            for i in range(count)
        ]
        writer.append(drafts, key, at=stamp)


def _after(last_at: dict[str, str]) -> str:
    return max(last_at.values()) if last_at else "2024-01-01T00:00:00Z"


def append_change(ledger: Ledger, key: SigningKey, new: int, seed: int = 2) -> None:
    """A pull request's worth of entries: half new sources, half notes on existing claims.

    The notes touch claims spread over the whole log, so the gate must fold their
    streams from the old prefix, not only hash it.
    """
    append_sources(ledger, key, new - new // 2, seed=seed)
    rng = random.Random(seed)
    with ledger.writer() as writer:
        state = writer.snapshot.state
        stamp = _after(state.last_at)
        claims = sorted(state.claims)
        drafts = [
            Draft(
                "note.added",
                rng.choice(claims),
                NoteAddedBody(
                    salt=new_salt(rng.randbytes), text=f"review note {i}", in_reply_to=None
                ),
            )
            for i in range(new // 2)
        ]
        writer.append(drafts, key, at=stamp)


def verify_since(ledger: Ledger, key: SigningKey, new: int, repeats: int) -> Sample:
    """``verify --since OLD_CHECKPOINT`` after ``new`` entries were appended."""
    old = ledger.root.parent / f"{ledger.root.name}.checkpoint"
    shutil.copyfile(ledger.checkpoint_path, old)
    append_change(ledger, key, new)
    times = []
    for _ in range(repeats):
        run = run_command(
            [
                FACTLEDGER,
                "verify",
                str(ledger.root),
                "--since",
                str(old),
                "--unsafe-allow-test-keys",
            ]
        )
        if run.returncode != 0:
            raise RuntimeError(f"verify --since failed: {run.stdout[-500:]!r}")
        times.append(run.seconds)
    return Sample(tuple(times))


def compile_bytecode() -> None:
    """Byte-compile the project's modules, as a regular ``pip install`` does.

    An editable install leaves them as source, and with ``PYTHONDONTWRITEBYTECODE``
    set (as on these machines) every command would compile them again: a cost no
    installed copy pays, and one the ``python -c`` baseline (whose libraries are
    installed compiled) does not carry either.
    """
    import compileall

    for package in ("ledger", "tui"):
        compileall.compile_dir(str(ROOT / package), quiet=1)


def claim_add(ledger: Ledger, key: SigningKey, runs: int) -> tuple[Sample, Sample]:
    """One ``factledger claim add`` process, end to end, and the start-up baseline.

    The two alternate, so they share whatever load the machine carries; one
    discarded call first brings the state cache up to date (a cold cache is a
    one-off rebuild, not the per-call cost).
    """
    keyfile = ledger.root.parent / f"{ledger.root.name}-bench.key"
    if not keyfile.exists():
        save_signing_key(key, keyfile, None)
    adds, starts = [], []
    for i in range(runs + 1):
        run = run_command(
            [
                FACTLEDGER,
                "claim",
                "add",
                f"Benchmark claim number {i} says something checkable.",
                "--claimant",
                "a benchmark",
                "--ledger",
                str(ledger.root),
                "--key",
                str(keyfile),
            ]
        )
        if run.returncode != 0:
            raise RuntimeError(f"claim add failed: {run.stderr[-500:]!r}")
        if i:
            adds.append(run.seconds)
            starts.append(run_command([PYTHON, "-c", "import msgspec, cryptography"]).seconds)
    return Sample(tuple(adds)), Sample(tuple(starts))


@dataclass(frozen=True)
class ProjectionFigures:
    rebuild: Sample
    catch_up: Sample
    """Refresh after one new entry with the cheap check only (``full_check=False``)."""
    catch_up_full: Sample
    """The same, also checking the BLAKE3 of the whole applied prefix: what every read
    does (the command line's, and the TUI's reload)."""
    as_of: Sample
    page: Sample


def projections(ledger: Ledger, key: SigningKey, repeats: int, queries_n: int) -> ProjectionFigures:
    """Full rebuild, catch-up of one new entry, as-of query and claims page latencies."""
    from ledger.projections import open_projection, queries

    projection = open_projection(ledger, refresh=False)
    try:
        rebuild = repeat(lambda: projection.rebuild("benchmark"), repeats=repeats, warmup=0)
        catch: dict[bool, list[float]] = {False: [], True: []}
        for i in range(repeats):
            for full_check in (False, True):
                _append_note(ledger, key, 2 * i + full_check)
                start = time.perf_counter()
                done = projection.refresh(full_check=full_check)
                catch[full_check].append(time.perf_counter() - start)
                if (done.action, done.applied) != ("caught-up", 1):
                    raise RuntimeError(f"catch-up did not apply one entry: {done}")
        size = queries.position(projection)
        rng = random.Random(7)
        page = queries.list_claims(projection, limit=200)
        claims = [row.claim_id for row in page.rows]
        as_of, pages = [], []
        for _ in range(queries_n):
            n = rng.randrange(size // 2, size)
            claim = rng.choice(claims)
            start = time.perf_counter()
            queries.claim_state(projection, claim, as_of=n)
            as_of.append(time.perf_counter() - start)
            start = time.perf_counter()
            queries.list_claims(projection, as_of=n, limit=50, offset=rng.randrange(0, 500))
            pages.append(time.perf_counter() - start)
    finally:
        projection.close()
    return ProjectionFigures(
        rebuild,
        Sample(tuple(catch[False])),
        Sample(tuple(catch[True])),
        Sample(tuple(as_of)),
        Sample(tuple(pages)),
    )


def _append_note(ledger: Ledger, key: SigningKey, i: int) -> None:
    snap_claim = None
    with ledger.writer() as writer:
        state = writer.snapshot.state
        snap_claim = next(iter(state.claims))
        body = NoteAddedBody(
            salt=new_salt(os.urandom), text=f"benchmark note {i}", in_reply_to=None
        )
        writer.append([Draft("note.added", snap_claim, body)], key, at=_after(state.last_at))
