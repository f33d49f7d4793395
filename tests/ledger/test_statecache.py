"""The cached fold state (.cache/state.sqlite) always gives the same answers as a full fold."""

from __future__ import annotations

import contextlib
import random
import sqlite3
from pathlib import Path

import msgspec
import pytest

from ledger import rules, statecache
from ledger.errors import LedgerError, StaleParent
from ledger.events import (
    ClaimAssertedBody,
    ClaimCorrectedBody,
    KeyGrantedBody,
    NoteAddedBody,
    SourceAttributedBody,
    SourceRegisteredBody,
    VerdictIssuedBody,
)
from ledger.keys import SigningKey
from ledger.ledger import Draft, Ledger, Snapshot, new_id, new_salt

OWNER = SigningKey.from_seed(b"\x11" * 32, comment="owner")
REVIEWER = SigningKey.from_seed(b"\x22" * 32, comment="reviewer")


def view(snap: Snapshot) -> dict[str, object]:
    """Everything the rules know, as plain values."""
    state = snap.state
    return {
        "size": snap.size,
        "root": snap.root(),
        "end": snap.end_offset,
        "heads": dict(state.heads.items()),
        "last_at": dict(state.last_at.items()),
        "claims": {
            k: (
                sorted(v.attributed),
                v.opaque_attributions,
                v.rating,
                v.last_rating,
                v.verdicts,
                v.rating_unknown,
            )
            for k, v in state.claims.items()
        },
        "sources": set(state.sources),
        "events": dict(state.events.items()),
        "keys": {k: (v.role, v.revoked) for k, v in state.keys.items()},
        "redacted": set(state.redacted),
    }


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    rng = random.Random(5)
    ledger = Ledger.init(
        tmp_path / "claims",
        origin="example.org/cache",
        key=OWNER,
        owner_name="Owner",
        at="2024-01-01T00:00:00Z",
        rng=rng.randbytes,
    )
    grant = KeyGrantedBody(
        salt=new_salt(rng.randbytes), key=REVIEWER.public.openssh_line(), name="R", role="reviewer"
    )
    ledger.append(
        [Draft("key.granted", REVIEWER.public.fingerprint, grant)], OWNER, at="2024-01-01T00:01:00Z"
    )
    return ledger


def source(rng: random.Random) -> Draft:
    body = SourceRegisteredBody(
        salt=new_salt(rng.randbytes),
        title="S",
        kind="report",
        publisher=None,
        url=None,
        published=None,
        reliability="B",
        archive_url=None,
        content_sha256=None,
    )
    return Draft("source.registered", new_id("src_", rng.randbytes), body)


def claim(rng: random.Random, text: str) -> Draft:
    body = ClaimAssertedBody(
        salt=new_salt(rng.randbytes),
        text=text,
        kind="factual",
        claimant="c",
        appearance=None,
        topics=[],
    )
    return Draft("claim.asserted", new_id("clm_", rng.randbytes), body)


def test_cached_load_equals_a_full_fold_after_every_kind_of_append(ledger: Ledger) -> None:
    rng = random.Random(1)
    src, clm = source(rng), claim(rng, "first wording")
    steps = [
        [src, clm],
        [
            Draft(
                "source.attributed",
                clm.subject,
                SourceAttributedBody(
                    salt=new_salt(rng.randbytes),
                    source=src.subject,
                    stance="supports",
                    quote=None,
                    locator=None,
                    retrieved=None,
                    credibility=2,
                ),
            )
        ],
        [
            Draft(
                "claim.corrected",
                clm.subject,
                ClaimCorrectedBody(
                    salt=new_salt(rng.randbytes),
                    text="second wording",
                    correction="typo",
                    reason="r",
                ),
            )
        ],
        [
            Draft(
                "note.added",
                clm.subject,
                NoteAddedBody(salt=new_salt(rng.randbytes), text="n", in_reply_to=None),
            )
        ],
    ]
    for i, drafts in enumerate(steps):
        ledger.append(drafts, REVIEWER, at=f"2024-01-02T00:0{i}:00Z")
        assert (ledger.cache_dir / statecache.FILE_NAME).exists()
        cached = ledger.load()
        assert cached.store is not None, "the load should have come from the cache"
        full = ledger.load(use_cache=False)
        assert view(cached) == view(full)
        cached.close()
    verdict = VerdictIssuedBody(
        salt=new_salt(rng.randbytes),
        rating="true",
        rationale="r",
        revision=None,
        changes_rating=False,
    )
    ledger.append([Draft("verdict.issued", clm.subject, verdict)], OWNER, at="2024-01-03T00:00:00Z")
    cached = ledger.load()
    assert view(cached) == view(ledger.load(use_cache=False))
    cached.close()


def test_rules_refuse_against_the_cached_state_as_they_do_against_a_full_fold(
    ledger: Ledger,
) -> None:
    rng = random.Random(2)
    clm = claim(rng, "a claim")
    (first,) = ledger.append([clm], REVIEWER, at="2024-01-02T00:00:00Z")
    correct = ClaimCorrectedBody(
        salt=new_salt(rng.randbytes), text="b", correction="typo", reason="r"
    )
    ledger.append(
        [Draft("claim.corrected", clm.subject, correct)], REVIEWER, at="2024-01-02T00:01:00Z"
    )
    stale = Draft("claim.corrected", clm.subject, correct, parent=first.id, expect_parent=True)
    before = ledger.events_path.read_bytes()
    with pytest.raises(StaleParent):
        ledger.append([stale], REVIEWER, at="2024-01-02T00:02:00Z")
    assert ledger.events_path.read_bytes() == before


@pytest.mark.parametrize("damage", ["truncate-last-line", "edit-last-line", "garbage-cache"])
def test_a_log_changed_under_the_cache_or_a_corrupt_cache_means_a_full_fold(
    ledger: Ledger, damage: str
) -> None:
    rng = random.Random(3)
    ledger.append([claim(rng, "one"), claim(rng, "two")], REVIEWER, at="2024-01-02T00:00:00Z")
    data = ledger.events_path.read_bytes()
    lines = data.splitlines(keepends=True)
    if damage == "truncate-last-line":
        ledger.events_path.write_bytes(b"".join(lines[:-1]))
    elif damage == "edit-last-line":
        # Same length, different bytes: the cache's last-line hash no longer matches.
        ledger.events_path.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b"two", b"owt"))
    else:
        (ledger.cache_dir / statecache.FILE_NAME).write_bytes(b"not a database" * 100)
    snap = ledger.load()
    assert snap.store is None
    assert view(snap) == view(ledger.load(use_cache=False))


def test_a_redaction_rewrites_the_log_and_the_next_load_folds_it_afresh(ledger: Ledger) -> None:
    rng = random.Random(4)
    clm = claim(rng, "a claim")
    note = NoteAddedBody(salt=new_salt(rng.randbytes), text="a private name", in_reply_to=None)
    ledger.append([clm], REVIEWER, at="2024-01-02T00:00:00Z")
    (added,) = ledger.append(
        [Draft("note.added", clm.subject, note)], REVIEWER, at="2024-01-02T00:01:00Z"
    )
    ledger.redact(added.id, "erasure request", OWNER, at="2024-01-03T00:00:00Z")
    snap = ledger.load()
    assert snap.store is None
    assert added.id in snap.state.redacted
    assert view(snap) == view(ledger.load(use_cache=False))


ODD_TEXT = [
    "plain",
    'a "quoted" \\ backslash',
    "tab\there, newline\nthere",
    "ünïcode 😀 and \u2028",
    "\x01control",
    "123",
    "true",
    "null",
    '{"json": "text"}',
    "",
]


def _table_state(con: sqlite3.Connection) -> rules.LedgerState:
    return statecache._state_on(con, None, origin=None, trust_root=None)


@pytest.mark.parametrize("nul", [False, True], ids=["", "with-a-NUL"])
@pytest.mark.parametrize("json", [True, False], ids=["json_each", "bound-rows"])
@pytest.mark.parametrize("chunk", [2, statecache.PUT_CHUNK], ids=["split", "one-document"])
def test_put_stores_each_string_and_state_exactly_either_way(
    tmp_path: Path, json: bool, chunk: int, nul: bool
) -> None:
    """What a large save writes in JSON documents reads back as what was saved.

    A document with a NUL in it is bound row by row (json_each would cut the string).
    """
    texts = [*ODD_TEXT, "a NUL\x00inside"] if nul else ODD_TEXT
    heads = {f"key {i}: {t}": f"value {t}" if i % 2 else t for i, t in enumerate(texts)}
    claims = {
        f"clm_{i}{t}": rules.ClaimState(
            attributed={t, "src_x"} if i % 2 else set(),
            opaque_attributions=i % 3 == 0,
            rating=t or None,
            last_rating=None if i % 2 else t,
            verdicts=i * (1 << 62),
            rating_unknown=i % 2 == 1,
        )
        for i, t in enumerate(texts)
    }
    events = {
        f"{i:064x}": rules.EventInfo(i, "note.added", t, f"SHA256:{t}") for i, t in enumerate(texts)
    }
    con = statecache._connect(tmp_path / statecache.FILE_NAME)
    statements: list[str] = []
    con.set_trace_callback(statements.append)
    statecache.put(con, "heads", heads, json=json, chunk=chunk)
    statecache.put(con, "claims", claims, json=json, chunk=chunk)
    statecache.put(con, "events", events, json=json, chunk=chunk)
    statecache.put(
        con, "sources", dict.fromkeys(heads, True), json=json, keys_only=True, chunk=chunk
    )
    con.set_trace_callback(None)
    # Per document: split, only the part with the NUL in it is bound row by row.
    whole = chunk == statecache.PUT_CHUNK
    assert any("json_each" in sql for sql in statements) == (json and not (nul and whole))
    state = _table_state(con)
    assert dict(state.heads.items()) == heads
    assert dict(state.claims.items()) == claims
    assert dict(state.events.items()) == events
    assert set(state.sources) == set(heads)
    # Strings are stored as themselves, states as JSON, whichever way they went in.
    assert dict(con.execute("SELECT k, v FROM heads").fetchall()) == heads
    kinds = {
        row[0]
        for table in ("heads", "claims", "events")
        for row in con.execute(f"SELECT DISTINCT typeof(v) FROM {table}")
    }
    assert kinds == {"text"}


def test_a_save_where_sqlite_has_no_json_each_reads_back_the_same(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statecache, "has_json_each", lambda con: False)
    rng = random.Random(6)
    ledger.append(
        [source(rng), claim(rng, "one"), claim(rng, "two")], REVIEWER, at="2024-01-02T00:00:00Z"
    )
    statecache.invalidate(ledger.cache_dir)
    ledger.append([claim(rng, "three")], REVIEWER, at="2024-01-02T00:01:00Z")  # a save anew
    ledger.append([claim(rng, "four")], REVIEWER, at="2024-01-02T00:02:00Z")  # and into it
    cached = ledger.load()
    assert cached.store is not None
    assert view(cached) == view(ledger.load(use_cache=False))
    cached.close()


def test_a_cache_of_an_older_schema_is_folded_afresh(ledger: Ledger) -> None:
    rng = random.Random(7)
    ledger.append([claim(rng, "one")], REVIEWER, at="2024-01-02T00:00:00Z")
    path = ledger.cache_dir / statecache.FILE_NAME
    with contextlib.closing(sqlite3.connect(path)) as con:
        (blob,) = con.execute("SELECT v FROM meta WHERE k = 'meta'").fetchone()
        meta = msgspec.msgpack.decode(blob, type=statecache.Meta)
        old = msgspec.structs.replace(meta, version=statecache.SCHEMA_VERSION - 1)
        con.execute("UPDATE meta SET v = ? WHERE k = 'meta'", (msgspec.msgpack.encode(old),))
        con.commit()
    snap = ledger.load()
    assert snap.store is None
    assert view(snap) == view(ledger.load(use_cache=False))


def test_a_long_fold_says_how_far_it_is_and_a_cached_load_says_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.ledger as ledger_module

    monkeypatch.setattr(ledger_module, "FOLD_TOLD_EVERY", 2)
    rng = random.Random(9)
    ledger.append([claim(rng, f"claim {i}") for i in range(7)], REVIEWER, at="2024-01-02T00:00:00Z")
    told: list[tuple[int, int]] = []
    ledger.on_fold = lambda done, end: told.append((done, end))
    size = ledger.events_path.stat().st_size
    ledger.load().close()  # from the cache, one line or none to fold
    assert told == []
    statecache.invalidate(ledger.cache_dir)
    ledger.load().close()  # all nine lines
    offsets = [done for done, _ in told]
    assert offsets == sorted(offsets)
    assert len(told) >= 3
    assert all(done < end == size for done, end in told[:-1])
    assert told[-1] == (size, size)  # the end, so a terminal line can be cleared
    told.clear()
    statecache.invalidate(ledger.cache_dir)
    with ledger.events_path.open("ab") as log:
        log.write(b"not an entry\n")
    with pytest.raises(LedgerError):
        ledger.load()
    assert told[-1] == (size, size)  # a refused fold ends its line too


def test_a_spilled_table_looks_up_only_keys_it_may_hold_and_finds_every_one(
    tmp_path: Path,
) -> None:
    """A scratch table (verify's, folding a large log) answers a key it never wrote
    without asking SQLite; a key it wrote and forgot comes back from the file."""
    state, con = statecache.scratch_state(
        tmp_path / "scratch.sqlite", origin=None, trust_root=None, spill_at=64
    )
    heads = state.heads
    assert isinstance(heads, statecache.SqlMap)
    lookups: list[str] = []
    con.set_trace_callback(lambda sql: lookups.append(sql) if sql.startswith("SELECT") else None)
    written = {f"clm_{i:012d}": f"{i:064x}" for i in range(5_000)}
    for key, value in written.items():
        assert heads.get(key) is None  # a new subject: no lookup
        heads[key] = value
    assert lookups == []
    assert heads.resident <= 65  # the rest went to the file
    assert all(heads.get(key) == value for key, value in written.items())
    assert lookups  # the forgotten ones were read back
    lookups.clear()
    absent = [f"src_{i:012d}" for i in range(5_000)]
    assert all(key not in heads for key in absent)
    assert len(lookups) < 50  # the filter's false positives, asked and answered
    con.close()


def test_a_table_of_a_cache_file_still_looks_up_keys_it_did_not_write(ledger: Ledger) -> None:
    """The state cache is written by other processes too: a key absent from this
    process's writes may be in the file, so it is looked up."""
    snap = ledger.load()
    ledger.save_cache(snap)
    again = ledger.load()
    assert isinstance(again.state.heads, statecache.SqlMap)
    subject = next(iter(snap.state.heads))
    assert again.state.heads.get(subject) == snap.state.heads[subject]
