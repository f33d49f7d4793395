"""Baselines measured in the same run as factledger's own paths.

- raw Ed25519 sign and verify rates: a tight loop with pre-loaded keys and
  pre-made entry-sized messages, with pyca/cryptography and PyNaCl (libsodium),
  in one process and in one process per core;
- SHA-256 of entry-sized messages;
- DuckDB's own ``read_json`` of an events file;
- the peer: the ``eventsourcing`` library (SQLite persistence, unsigned)
  appending and replaying events.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from scripts.bench.measure import Sample, repeat

COLUMNS = (
    "{'at': 'VARCHAR', 'author': 'VARCHAR', 'body': 'JSON', 'body_hash': 'VARCHAR', "
    "'kind': 'VARCHAR', 'parent': 'VARCHAR', 'sig': 'VARCHAR', 'subject': 'VARCHAR', "
    "'v': 'BIGINT'}"
)
MESSAGE_BYTES = 420
"""About the size of a signed header: what factledger signs and verifies."""


def _messages(n: int) -> list[bytes]:
    return [os.urandom(MESSAGE_BYTES) for _ in range(n)]


def _verify_loop(lib: str, n: int) -> tuple[int, float]:
    """Verify ``n`` signatures in a tight loop; return (n, seconds of the loop alone)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    msgs = _messages(n)
    sigs = [private.sign(m) for m in msgs]
    if lib == "pynacl":
        from nacl.bindings import crypto_sign_open

        signed = [s + m for s, m in zip(sigs, msgs, strict=True)]
        start = time.perf_counter()
        for sm in signed:
            crypto_sign_open(sm, raw)
        return n, time.perf_counter() - start
    start = time.perf_counter()
    for s, m in zip(sigs, msgs, strict=True):
        public.verify(s, m)
    return n, time.perf_counter() - start


def verify_rate(lib: str, processes: int, n: int, repeats: int) -> Sample:
    """Signatures verified per second by ``processes`` concurrent tight loops."""
    rates = []
    for _ in range(repeats):
        if processes == 1:
            count, seconds = _verify_loop(lib, n)
            rates.append(count / seconds)
            continue
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            results = pool.starmap(_verify_loop, [(lib, n)] * processes)
        rates.append(sum(c for c, _ in results) / max(s for _, s in results))
    return Sample(tuple(rates), "/s")


def sign_rate(lib: str, n: int, repeats: int) -> Sample:
    """Signatures made per second in one process."""
    msgs = _messages(n)
    if lib == "pynacl":
        from nacl.signing import SigningKey as NaclKey

        nacl_key = NaclKey.generate()
        sample = repeat(lambda: [nacl_key.sign(m) for m in msgs], repeats=repeats)
    else:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pyca_key = Ed25519PrivateKey.generate()
        sample = repeat(lambda: [pyca_key.sign(m) for m in msgs], repeats=repeats)
    return sample.per_second(n)


def sha256_rate(n: int, repeats: int) -> Sample:
    import hashlib

    msgs = _messages(n)
    return repeat(lambda: [hashlib.sha256(m).digest() for m in msgs], repeats=repeats).per_second(n)


def duckdb_read_json(events: Path, repeats: int) -> Sample:
    """DuckDB reading the events file into a table: the floor of any DuckDB load."""
    import duckdb

    def load() -> None:
        con = duckdb.connect(":memory:")
        # Column types given, as the projections give them: auto-detection samples the
        # first rows and fails on bodies of kinds that first occur later.
        con.execute(
            "CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited', "
            f"columns={COLUMNS})",
            [str(events)],
        )
        con.close()

    return repeat(load, repeats=repeats)


def _peer_env(directory: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": os.path.join(directory, "peer.sqlite"),
    }


def peer(n_single: int, n_batch: int) -> dict[str, float]:
    """The eventsourcing library: append one aggregate at a time, in batches of 100, replay.

    Unsigned events of about the size of a claim, persisted in SQLite. Rates in events/s.
    """
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Claim(Aggregate):  # type: ignore[misc]
        @event("Asserted")  # type: ignore[misc]
        def __init__(self, text: str, claimant: str) -> None:
            self.text = text
            self.claimant = claimant

    text = "x" * 200
    with tempfile.TemporaryDirectory() as directory:
        app = Application(env=_peer_env(directory))
        start = time.perf_counter()
        for _ in range(n_single):
            app.save(Claim(text, "someone"))
        single = n_single / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(n_batch // 100):
            app.save(*[Claim(text, "someone") for _ in range(100)])
        batch = (n_batch // 100 * 100) / (time.perf_counter() - start)
        start = time.perf_counter()
        replayed = sum(1 for _ in app.recorder.select_notifications(start=1, limit=10**9))
        replay = replayed / (time.perf_counter() - start)
        app.close()
    return {"append_single": single, "append_batch": batch, "replay": replay}
