"""Hostile input at every entry point that reads bytes from outside (research §6).

Every parser either accepts an input that is genuinely valid, or raises (or, for
``verify``, reports) a :class:`~ledger.errors.LedgerError` — never another exception,
never a hang (each test has a pytest-timeout), never memory out of proportion to
the input. The entry points: :func:`ledger.codec.decode_entry`, :func:`ledger.verify.verify`
on a ledger holding the input, :func:`ledger.checkpoint.parse_body` and
:func:`~ledger.checkpoint.open_checkpoint`, :func:`ledger.notes.open_note`,
:func:`ledger.proofs.check_receipt`, and the projection loader when installed.

"Genuinely valid" is checked, not assumed: a line ``decode_entry`` accepts re-encodes
to the same bytes; a checkpoint text ``parse_body`` accepts is the text it would write;
a note or checkpoint that opens carries the text the ledger signed; a receipt or
dossier that checks proves the very entries, size and root of the real one; and a
ledger whose log differs from the signed one in any byte never verifies.

Two kinds of test. Hypothesis mutates valid inputs (byte flips, insertions of
troublesome tokens, deletions, duplications, truncations). Tables list the named
bad inputs of the research notes, each fed through the entry points it can reach:
line-level ones through ``decode_entry``, ``verify`` (which must report the defect at
its own line) and the projections; checkpoint-level ones through ``open_checkpoint``,
``verify`` and ``check_receipt``. (``tests/ledger/test_codec.py`` and
``test_checkpoint.py`` pin the exact rule each parser names for many of the same
inputs; this file checks the paths around them.)

Memory: for inputs of about a MiB and more, tracemalloc's peak of Python allocations
while an entry point handles the input (which was allocated before tracing began) is
at most ``MEMORY_FACTOR`` (8) times the input's size; the measured ratios are printed
in the terminal summary.

Default example counts are modest; ``FACTLEDGER_HEAVY=1`` multiplies them by ten.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import shutil
import tracemalloc
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle, receipts
from ledger.checkpoint import open_checkpoint, parse_body
from ledger.cli.main import main
from ledger.codec import MAX_LINE_BYTES, decode_entry, encode_entry
from ledger.entry import seal
from ledger.errors import DecodeError, InvalidProof, LedgerError, NoteError
from ledger.events import (
    Appearance,
    ClaimAssertedBody,
    KeyGrantedBody,
    NoteAddedBody,
    SourceAttributedBody,
    SourceRegisteredBody,
    VerdictIssuedBody,
)
from ledger.keys import PublicKey, SigningKey
from ledger.ledger import Draft, Ledger, LedgerConfig
from ledger.notes import NoteVerifier, open_note, parse_vkey, sign_note
from ledger.proofs import Checked, check_receipt
from ledger.verify import RULES, Report, verify
from tests.reliability.conftest import amount

REPO = Path(__file__).resolve().parents[2]
LOW_ORDER = json.loads(
    (REPO / "fixtures" / "vectors" / "cctv-ed25519" / "low-order-encodings.json").read_text(
        encoding="utf-8"
    )
)["encodings"]
ORIGIN = "example.org/fuzz"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
MEMORY_FACTOR = 8
"""msgspec's decoder alone peaks at ~3x a line and decode_entry re-encodes it to compare
(~6x in all, for a line of at most 1 MiB); verify holds a long line about four times."""
BIG = 4 << 20
"""A multi-megabyte input: four times the longest line a log may hold."""
FUZZ_TIMEOUT = amount(120, 1200)


def examples(default: int) -> int:
    return amount(default, default * 10)


def key(label: str) -> SigningKey:
    """A deterministic test key, derived from a public label (so verification passes
    ``unsafe_allow_test_keys``, as for any ledger rooted in a test key)."""
    seed = hashlib.sha256(f"factledger/tests/reliability/fuzz/{label}".encode()).digest()
    return SigningKey.from_seed(seed, f"{label}@example.org")


OWNER, REVIEWER, STRANGER = key("owner"), key("reviewer"), key("stranger")


def counter_rng(label: str) -> Callable[[int], bytes]:
    count = iter(range(10**9))
    return lambda n: hashlib.sha256(f"{label}/{next(count)}".encode()).digest()[:n]


# --- the valid material that is mutated -----------------------------------------------


@dataclass(frozen=True)
class Material:
    """Seven entries (genesis, grant, source, claim, attribution, note, verdict) holding
    every kind of field value — nulls, integers, lists, a nested object, non-ASCII and
    escaped text — with the signed checkpoint, a receipt for the note and a dossier."""

    root: Path
    config: LedgerConfig
    lines: list[bytes]
    checkpoint: bytes
    receipt: bytes
    dossier: bytes
    note_index: int

    @property
    def events(self) -> bytes:
        return b"".join(line + b"\n" for line in self.lines)

    @property
    def body_text(self) -> str:
        return self.checkpoint.decode().split("\n\n")[0] + "\n"

    def checked(self, proof: bytes) -> Checked:
        return check_receipt(proof, OWNER.public.fingerprint)


def build(root: Path) -> Material:
    rng = counter_rng("material")
    salt = lambda: base64.b64encode(rng(16)).decode()  # noqa: E731
    ledger = Ledger.init(
        root, origin=ORIGIN, key=OWNER, owner_name="Olga", at="2024-01-01T00:00:00Z",
        now=lambda: NOW, rng=rng,
    )  # fmt: skip
    source, claim = "src_" + "b" * 12, "clm_" + "c" * 12
    drafts = [
        Draft(
            "key.granted",
            REVIEWER.public.fingerprint,
            KeyGrantedBody(
                salt=salt(), key=REVIEWER.public.openssh_line(), name="Rui", role="reviewer"
            ),
        ),
        Draft(
            "source.registered",
            source,
            SourceRegisteredBody(
                salt=salt(),
                title="Gauge records",
                kind="dataset",
                publisher="Water agency",
                url="https://example.org/gauge?x=1&y=2",
                published="2024-03-01",
                reliability="B",
                archive_url=None,
                content_sha256="ab" * 32,
            ),
        ),
        Draft(
            "claim.asserted",
            claim,
            ClaimAssertedBody(
                salt=salt(),
                text="The river rose 2 m — a record for the café district.",
                kind="factual",
                claimant="the mayor",
                appearance=Appearance(source=source, quote="rose 2 m", locator="para 4"),
                topics=["floods", "北"],
            ),
        ),
        Draft(
            "source.attributed",
            claim,
            SourceAttributedBody(
                salt=salt(),
                source=source,
                stance="disputes",
                quote='"1.4 m"',
                locator="table 2",
                retrieved="2024-03-02",
                credibility=2,
            ),
        ),
    ]
    ledger.append(drafts, OWNER, at="2024-03-02T10:00:00Z", now=lambda: NOW)
    note = NoteAddedBody(
        salt=salt(), text="Check gauge 7\u2028and the \\old\\ one.", in_reply_to=None
    )
    (noted,) = ledger.append(
        [Draft("note.added", claim, note)], REVIEWER, at="2024-03-03T10:00:00Z", now=lambda: NOW
    )
    verdict = VerdictIssuedBody(
        salt=salt(), rating="false", rationale="The gauge shows 1.4 m.", revision=None,
        changes_rating=False,
    )  # fmt: skip
    ledger.append(
        [Draft("verdict.issued", claim, verdict)], OWNER, at="2024-03-04T10:00:00Z",
        now=lambda: NOW,
    )  # fmt: skip
    return Material(
        root=root,
        config=ledger.config,
        lines=ledger.events_path.read_bytes().splitlines(),
        checkpoint=ledger.checkpoint_path.read_bytes(),
        receipt=receipts.receipt(ledger, noted.id).encode(),
        dossier=receipts.dossier(ledger, claim).encode(),
        note_index=noted.seq,
    )


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    made = build(tmp_path_factory.mktemp("material") / "claims")
    assert run_verify(made.root, made.config).ok
    return made


@pytest.fixture(scope="module")
def scratch(material: Material, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the ledger whose events and checkpoint each example overwrites."""
    root = tmp_path_factory.mktemp("scratch") / "claims"
    shutil.copytree(material.root, root)
    return root


def run_verify(root: Path, config: LedgerConfig) -> Report:
    return verify(root, config=config, now=NOW, workers=1, unsafe_allow_test_keys=True)


def verify_bytes(scratch: Path, material: Material, events: bytes, checkpoint: bytes) -> Report:
    (scratch / "events.jsonl").write_bytes(events)
    (scratch / "checkpoint").write_bytes(checkpoint)
    report = run_verify(scratch, material.config)
    for finding in report.findings:
        assert finding.rule in RULES or finding.severity == "notice", finding
    return report


# --- mutations -----------------------------------------------------------------------

TOKENS = [
    b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b" ", b"\t", b"\r", b"\n", b"\r\n",
    b"\x00", b"\x01", b"\x1f", b"\x7f", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xc3",
    b"\xef\xbb\xbf", b"\\u0000", b"\\ud800", b"\\udc00", b"\\u00e9", b"\\/", b"\\n",
    b"1.0", b"1e0", b"-0", b"0x1", b"01", b"+1", b"NaN", b"Infinity", b"1e400",
    b"9007199254740992", b"18446744073709551616", b"null", b"true", b"=", b"==", b"-", b"_",
    b"\xe2\x80\x94", b"\xe2\x80\xa8", b"e\xcc\x81", b"\xc3\xa9",
]  # fmt: skip


def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` changed in one to four places."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
            pos = draw(st.integers(0, len(out)))
            if op == "flip" and pos < len(out):
                out[pos] ^= 1 << draw(st.integers(0, 7))
            elif op == "insert":
                token = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=4))
                out[pos:pos] = token
            elif op == "delete":
                del out[pos : pos + draw(st.integers(1, 16))]
            elif op == "duplicate":
                out[pos:pos] = out[pos : pos + draw(st.integers(1, 64))]
            elif op == "truncate":
                del out[pos:]
        return bytes(out)

    return mutate()


def explore(count: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def lines_of(material: Material) -> st.SearchStrategy[tuple[int, bytes]]:
    return st.integers(0, len(material.lines) - 1).flatmap(
        lambda i: st.tuples(st.just(i), mutations(material.lines[i]))
    )


# --- hypothesis: mutated valid inputs ---------------------------------------------------


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_decode_entry_accepts_only_lines_that_reencode_to_themselves(
    material: Material, report_count: Callable[[str], None]
) -> None:
    outcomes: Counter[str] = Counter()

    @explore(examples(300))
    @given(lines_of(material))
    def check(case: tuple[int, bytes]) -> None:
        _, line = case
        try:
            entry = decode_entry(line, lineno=1, path="events.jsonl")
        except DecodeError as exc:
            outcomes[f"refused ({exc.rule})"] += 1
            refused_rules.add(exc.rule)
            return
        assert encode_entry(entry) == line
        outcomes["accepted (canonical)"] += 1

    refused_rules: set[str | None] = set()
    check()
    assert None not in refused_rules, "a refusal without a rule name"
    report_count(f"decode_entry: {dict(outcomes)}")


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_verify_reports_any_change_to_the_log_and_never_raises(
    material: Material, scratch: Path, report_count: Callable[[str], None]
) -> None:
    outcomes: Counter[str] = Counter()
    whole = material.events

    @explore(examples(120))
    @given(st.one_of(lines_of(material), st.tuples(st.just(-1), mutations(whole))))
    def check(case: tuple[int, bytes]) -> None:
        index, mutant = case
        if index >= 0:
            lines = list(material.lines)
            lines[index] = mutant
            events = b"".join(line + b"\n" for line in lines)
        else:
            events = mutant
        report = verify_bytes(scratch, material, events, material.checkpoint)
        if events == whole:
            assert report.ok, report.errors
            outcomes["unchanged, verified"] += 1
            return
        assert not report.ok, "a changed log verified"
        outcomes[f"first finding: {report.errors[0].rule}"] += 1

    check()
    report_count(f"verify: {dict(outcomes)}")


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_parse_body_accepts_only_the_text_it_would_write(
    material: Material, report_count: Callable[[str], None]
) -> None:
    outcomes: Counter[str] = Counter()

    @explore(examples(300))
    @given(mutations(material.body_text.encode()))
    def check(mutant: bytes) -> None:
        text = mutant.decode("utf-8", "replace")
        try:
            cp = parse_body(text, origin=ORIGIN)
        except NoteError:
            outcomes["refused"] += 1
            return
        assert cp.body() == text
        outcomes["accepted (canonical)"] += 1

    check()
    report_count(f"parse_body: {dict(outcomes)}")


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_open_checkpoint_and_open_note_accept_only_what_the_ledger_signed(
    material: Material, report_count: Callable[[str], None]
) -> None:
    outcomes: Counter[str] = Counter()
    keys = [OWNER.public, REVIEWER.public]
    verifiers = [NoteVerifier(ORIGIN, k) for k in keys]
    signed = open_checkpoint(material.checkpoint, ORIGIN, keys)

    @explore(examples(300))
    @given(mutations(material.checkpoint))
    def check(mutant: bytes) -> None:
        try:
            opened = open_note(mutant, verifiers)
        except NoteError:
            outcomes["note refused"] += 1
        else:
            assert opened.text == material.body_text
            outcomes["note accepted: the signed text"] += 1
        try:
            cp = open_checkpoint(mutant, ORIGIN, keys)
        except (NoteError, DecodeError):
            outcomes["checkpoint refused"] += 1
        else:
            assert cp == signed
            outcomes["checkpoint accepted: the signed one"] += 1

    check()
    report_count(f"open_note/open_checkpoint: {dict(outcomes)}")


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_check_receipt_accepts_only_what_the_ledger_proves(
    material: Material, report_count: Callable[[str], None]
) -> None:
    """Mutated receipts, dossiers, and receipts whose base64 ``extra`` (the key chain's
    JSON, which byte flips of its base64 barely reach) is mutated before encoding."""
    outcomes: Counter[str] = Counter()
    extra = receipt_extra(material)
    genuine = {"receipt": material.receipt, "dossier": material.dossier, "extra": extra}
    proven = {name: material.checked(material.dossier if name == "dossier" else material.receipt)
              for name in genuine}  # fmt: skip

    @explore(examples(150))
    @given(
        st.sampled_from(sorted(genuine)).flatmap(
            lambda name: st.tuples(st.just(name), mutations(genuine[name]))
        )
    )
    def check(case: tuple[str, bytes]) -> None:
        name, mutant = case
        if name == "extra":
            mutant = receipt_with(material, extra=mutant)
        try:
            checked = check_receipt(mutant, OWNER.public.fingerprint)
        except LedgerError as exc:
            outcomes[f"{name} refused ({type(exc).__name__})"] += 1
            return
        assert checked == proven[name]
        outcomes[f"{name} accepted: the same proof"] += 1

    check()
    report_count(f"check_receipt: {dict(outcomes)}")


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_projection_loads_a_mutated_log_or_raises_a_ledger_error(
    material: Material, scratch: Path, report_count: Callable[[str], None]
) -> None:
    projections = pytest.importorskip("ledger.projections", reason="the read side is absent")
    outcomes: Counter[str] = Counter()

    @explore(examples(20))
    @given(lines_of(material))
    def check(case: tuple[int, bytes]) -> None:
        index, mutant = case
        lines = list(material.lines)
        lines[index] = mutant
        (scratch / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
        try:
            projection = projections.open_projection(Ledger.open(scratch), in_memory=True)
        except LedgerError as exc:
            outcomes[f"refused ({exc.rule})"] += 1
            return
        projection.close()
        outcomes["loaded"] += 1

    check()
    report_count(f"projection: {dict(outcomes)}")


# --- named bad lines, through decode_entry, verify and the projections -------------------


def sub(line: bytes, old: bytes, new: bytes) -> bytes:
    assert line.count(old) >= 1, old
    return line.replace(old, new, 1)


def sig_of(line: bytes) -> bytes:
    return json.loads(line)["sig"].encode()


def with_sig(line: bytes, sig: str) -> bytes:
    return sub(line, b'"sig":"' + sig_of(line) + b'"', b'"sig":"' + sig.encode() + b'"')


def deep(n: int, open_: bytes, close: bytes, inner: bytes = b"") -> bytes:
    return open_ * n + inner + close * n


PLUS_SLASH = bytes([0xFB, 0xFF]) * 32
"""64 bytes whose standard base64 is all '+' and '/'."""


def bad_lines(lines: list[bytes]) -> Iterator[tuple[str, int, bytes]]:
    """(name, line index, bad line) for each named hostile input on an entry line."""
    genesis, _grant, source, claim, attributed, note, verdict = lines
    text = b'"text":"The river rose 2 m'
    yield "duplicate top-level key", 3, sub(claim, b'"kind":', b'"kind":"claim.asserted","kind":')
    yield "duplicate nested key", 3, sub(claim, b'"locator":', b'"locator":"x","locator":')
    yield "permuted keys", 6, b'{"v":1,' + verdict[1 : -len(b',"v":1}')] + b"}"
    yield "space after a colon", 4, sub(attributed, b'"credibility":2', b'"credibility": 2')
    yield "trailing whitespace", 5, note + b" \t"
    for name, number in [
        ("float", b"2.0"), ("exponent", b"2e0"), ("capital exponent", b"2E+0"),
        ("negative zero", b"-0"), ("hex", b"0x2"), ("leading zero", b"02"), ("plus", b"+2"),
        ("NaN", b"NaN"), ("Infinity", b"Infinity"), ("-Infinity", b"-Infinity"),
        ("1e400", b"1e400"), ("2^53", b"9007199254740992"), ("2^53+1", b"9007199254740993"),
        ("2^64", b"18446744073709551616"), ("-2^63-1", b"-9223372036854775809"),
        ("boolean", b"true"),
    ]:  # fmt: skip
        yield (
            f"credibility {name}",
            4,
            sub(attributed, b'"credibility":2', b'"credibility":' + number),
        )
    yield "version 1.0", 0, sub(genesis, b'"v":1}', b'"v":1.0}')
    yield "scale value 2^53", 0, sub(genesis, b'"value":5', b'"value":9007199254740992')
    yield "lone high surrogate", 3, sub(claim, text, text + b"\\ud800")
    yield "lone low surrogate", 3, sub(claim, text, text + b"\\udc00")
    yield "reversed surrogate pair", 3, sub(claim, text, text + b"\\udc00\\ud800")
    yield "raw NUL", 3, sub(claim, text, text + b"\x00")
    yield "raw control character", 3, sub(claim, text, text + b"\x01")
    yield "raw escape character", 3, sub(claim, text, text + b"\x1b[2J")
    yield "escaped NUL (canonical, unsigned)", 3, sub(claim, text, text + b"\\u0000")
    yield "BOM", 3, b"\xef\xbb\xbf" + claim
    yield "CRLF line ending", 3, claim + b"\r"
    yield "CR inside", 3, sub(claim, b'","kind"', b'",\r"kind"')
    for name, raw in [
        ("\\xff", b"\xff"), ("overlong /", b"\xc0\xaf"), ("encoded surrogate", b"\xed\xa0\x80"),
        ("above U+10FFFF", b"\xf4\x90\x80\x80"), ("truncated sequence", b"\xe2\x82"),
    ]:  # fmt: skip
        yield f"invalid UTF-8: {name}", 3, sub(claim, text, text + raw)
    yield "NFD for NFC (canonical, unsigned)", 3, sub(claim, "café".encode(), "cafe\u0301".encode())
    topics = re.search(rb'"topics":\[[^\]]*\]', claim)
    appearance = re.search(rb'"appearance":\{[^}]*\}', claim)
    assert topics is not None
    assert appearance is not None
    nested_arrays = b'"topics":' + deep(10**5, b"[", b"]")
    yield "10^5 nested arrays", 3, sub(claim, topics[0], nested_arrays)
    nested_objects = b'"appearance":' + deep(10**5, b'{"a":', b"}", b"1")
    yield "10^5 nested objects", 3, sub(claim, appearance[0], nested_objects)
    yield "multi-megabyte string", 3, sub(claim, text, text + b"x" * (2 * MAX_LINE_BYTES))
    standard = base64.b64encode(PLUS_SLASH).decode()
    yield "signature, standard alphabet but wrong", 5, with_sig(note, standard)
    yield (
        "signature, URL-safe alphabet",
        5,
        with_sig(note, base64.urlsafe_b64encode(PLUS_SLASH).decode()),
    )
    yield "signature without padding", 5, with_sig(note, standard.rstrip("="))
    yield "signature with non-zero trailing bits", 5, with_sig(note, standard[:-3] + "B==")
    yield "signature of 63 bytes", 5, with_sig(note, base64.b64encode(PLUS_SLASH[:63]).decode())
    yield "signature of 65 bytes", 5, with_sig(note, base64.b64encode(PLUS_SLASH + b"\0").decode())
    yield "all-zero signature", 5, with_sig(note, base64.b64encode(bytes(64)).decode())
    parent = json.loads(attributed)["parent"].encode()
    yield "uppercase hex parent", 4, sub(attributed, parent, parent.upper())
    yield "salt URL-safe", 2, _salt_variant(source, "url")
    yield "salt unpadded", 2, _salt_variant(source, "unpadded")
    yield "salt trailing bits", 2, _salt_variant(source, "bits")


def _salt_variant(line: bytes, how: str) -> bytes:
    salt = json.loads(line)["body"]["salt"]
    raw = base64.b64decode(salt)
    bad = {
        "url": base64.urlsafe_b64encode(bytes([0xFB, 0xFF]) * 8).decode(),
        "unpadded": salt.rstrip("="),
        "bits": salt[:-3] + ("B" if salt[-3] != "B" else "C") + "==",
    }[how]
    assert bad != salt
    assert len(raw) == 16
    return sub(line, f'"salt":"{salt}"'.encode(), f'"salt":"{bad}"'.encode())


def _weak_grants() -> Iterator[tuple[str, int, bytes]]:
    """Each low-order encoding (the all-zero key among them), to be granted by the owner."""
    for number, encoding in enumerate(LOW_ORDER):
        kind = "canonical" if encoding["canonical"] else "non-canonical"
        name = f"grant of low-order key #{number} (order {encoding['order']}, {kind})"
        yield name, 1, bytes.fromhex(encoding["hex"])


@pytest.fixture(scope="module")
def named_lines(material: Material) -> list[tuple[str, int, bytes]]:
    cases = list(bad_lines(material.lines))
    grant = decode_entry(material.lines[1])
    for name, index, raw in _weak_grants():
        weak = PublicKey(raw=raw)
        body = KeyGrantedBody(
            salt=grant.body.salt, key=weak.openssh_line(), name="Weak", role="reviewer"
        )
        entry = seal(
            kind="key.granted", subject=weak.fingerprint, parent=None, at=grant.at, body=body,
            key=OWNER,
        )  # fmt: skip
        cases.append((name, index, encode_entry(entry)))
    return cases


def test_the_named_bad_lines_are_all_distinct_from_the_valid_ones(
    named_lines: list[tuple[str, int, bytes]], material: Material
) -> None:
    names = [name for name, _, _ in named_lines]
    assert len(names) == len(set(names))
    for name, index, line in named_lines:
        assert line != material.lines[index], name
    assert any(raw == bytes(32) for _, _, raw in _weak_grants()), "the all-zero key is covered"


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_each_named_bad_line_is_refused_or_canonical_and_verify_reports_it_at_its_line(
    material: Material,
    scratch: Path,
    named_lines: list[tuple[str, int, bytes]],
    report_count: Callable[[str], None],
) -> None:
    rules: Counter[str] = Counter()
    for name, index, bad in named_lines:
        try:
            entry = decode_entry(bad, lineno=index + 1, path="events.jsonl")
        except DecodeError as exc:
            refused_at = exc.line
        else:
            assert encode_entry(entry) == bad, name
            refused_at = index + 1
        assert refused_at == index + 1, name
        lines = list(material.lines)
        lines[index] = bad
        events = b"".join(line + b"\n" for line in lines)
        report = verify_bytes(scratch, material, events, material.checkpoint)
        assert not report.ok, name
        first = report.errors[0]
        assert first.line == index + 1, (name, report.errors[:3])
        rules[first.rule] += 1
    report_count(f"{len(named_lines)} named bad lines, first findings {dict(rules)}")


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_each_named_bad_line_keeps_the_projections_from_loading_with_a_ledger_error(
    material: Material, scratch: Path, named_lines: list[tuple[str, int, bytes]]
) -> None:
    projections = pytest.importorskip("ledger.projections", reason="the read side is absent")
    for name, index, bad in named_lines:
        lines = list(material.lines)
        lines[index] = bad
        (scratch / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
        try:
            projection = projections.open_projection(Ledger.open(scratch), in_memory=True)
        except LedgerError:
            continue
        projection.close()  # a canonical but unsigned line: projecting is not verifying
        entry = decode_entry(bad)
        assert encode_entry(entry) == bad, name


def test_nfc_and_nfd_spellings_are_both_valid_distinct_and_kept_as_written(
    tmp_path: Path,
) -> None:
    """No normalisation: each form is signed and stored as given, and they differ in id."""
    root = tmp_path / "claims"
    ledger = Ledger.init(root, origin=ORIGIN, key=OWNER, owner_name="Olga", now=lambda: NOW)
    nfc = unicodedata.normalize("NFC", "Le café a fermé")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    drafts = [
        Draft("claim.asserted", f"clm_{letter * 12}", ClaimAssertedBody(
            salt=base64.b64encode(bytes(16)).decode(), text=text, kind="factual",
            claimant="a café", appearance=None, topics=[],
        ))
        for letter, text in (("a", nfc), ("b", nfd))
    ]  # fmt: skip
    done = ledger.append(drafts, OWNER, now=lambda: NOW)
    assert done[0].id != done[1].id
    stored = [decode_entry(line) for line in ledger.events_path.read_bytes().splitlines()[1:]]
    assert [e.body.text for e in stored] == [nfc, nfd]
    assert nfd.encode() in ledger.events_path.read_bytes()
    assert run_verify(root, ledger.config).ok


# --- named bad checkpoints, through open_checkpoint, verify and check_receipt --------------


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def owner_note(text: str) -> str:
    return sign_note(text, ORIGIN, OWNER)


def checkpoint_cases(material: Material) -> Iterator[tuple[str, bytes, bool]]:
    """(name, checkpoint note, whether it is well-formed and signed by a ledger key)."""
    origin, size, root_b64 = material.body_text[:-1].split("\n")
    root = base64.b64decode(root_b64)

    def body(s: str = size, r: str = root_b64) -> str:
        return f"{origin}\n{s}\n{r}\n"

    for name, s in [
        ("size 012", "0" + size), ("size +N", "+" + size), ("size 'N '", size + " "),
        ("size ' N'", " " + size), ("size N.0", size + ".0"), ("size 0xN", f"0x{size}"),
        ("size in full-width digits", size.translate(FULL_WIDTH)),
        ("size 2^63", str(2**63)), ("size -1", "-1"), ("empty size", ""),
    ]:  # fmt: skip
        yield name, owner_note(body(s=s)).encode(), False
    yield (
        "root of 31 bytes",
        owner_note(body(r=base64.b64encode(root[:31]).decode())).encode(),
        False,
    )
    yield (
        "root of 33 bytes",
        owner_note(body(r=base64.b64encode(root + b"\0").decode())).encode(),
        False,
    )
    yield "root unpadded", owner_note(body(r=root_b64.rstrip("="))).encode(), False
    bits = root_b64[:-2] + ("B" if root_b64[-2] != "B" else "C") + "="
    yield "root with non-zero trailing bits", owner_note(body(r=bits)).encode(), False
    url = base64.urlsafe_b64encode(bytes([0xFB, 0xFF]) * 16).decode()
    yield "root in the URL-safe alphabet", owner_note(body(r=url)).encode(), False
    yield (
        "root of the wrong tree",
        owner_note(body(r=base64.b64encode(bytes(32)).decode())).encode(),
        True,
    )
    yield "size of a longer log", owner_note(body(s=str(int(size) + 1))).encode(), True
    signed = owner_note(body())
    unknown = "".join(
        f"— witness{i}.example {base64.b64encode(bytes(4) + bytes(64)).decode()}\n"
        for i in range(100)
    )
    yield "101 signature lines", (signed + unknown).encode(), False
    yield "only an unknown key's signature", sign_note(body(), ORIGIN, STRANGER).encode(), False
    yield (
        "the owner's key under another name",
        sign_note(body(), "other.example", OWNER).encode(),
        False,
    )
    text, _, sig_line = signed.partition("\n\n")
    name, _, blob = sig_line.rstrip("\n").partition(" ")[2].partition(" ")
    raw = base64.b64decode(blob)
    for label, cut in (("63", raw[:-1]), ("65", raw + b"\0")):
        line = f"— {name} {base64.b64encode(cut).decode()}\n"
        yield f"owner signature of {label} bytes", f"{text}\n\n{line}".encode(), False
    yield "CRLF line endings", signed.replace("\n", "\r\n").encode(), False
    yield "BOM", b"\xef\xbb\xbf" + signed.encode(), False
    yield "missing final newline", signed.encode()[:-1], False
    yield (
        "NUL in the origin",
        owner_note(body()).replace(origin, origin + "\x00", 1).encode(),
        False,
    )


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_each_named_bad_checkpoint_is_refused_everywhere_it_is_read(
    material: Material, scratch: Path, report_count: Callable[[str], None]
) -> None:
    keys = [OWNER.public, REVIEWER.public]
    receipt_head = material.receipt.split(b"\n\n", 1)[0]
    cases = list(checkpoint_cases(material))
    for name, note, well_formed in cases:
        if well_formed:
            cp = open_checkpoint(note, ORIGIN, keys)
            assert cp != open_checkpoint(material.checkpoint, ORIGIN, keys), name
        else:
            with pytest.raises(LedgerError) as caught:
                open_checkpoint(note, ORIGIN, keys)
            assert isinstance(caught.value, NoteError | DecodeError), name
        report = verify_bytes(scratch, material, material.events, note)
        assert [(f.rule, f.file) for f in report.errors] == [("checkpoint", "checkpoint")], name
        if not well_formed:  # a well-formed one is the owner's word: receipts trust it
            with pytest.raises(LedgerError):
                check_receipt(receipt_head + b"\n\n" + note, OWNER.public.fingerprint)
    report_count(f"{len(cases)} named bad checkpoints refused by open_checkpoint/verify/receipts")


@pytest.mark.parametrize("encoding", LOW_ORDER, ids=lambda e: e["hex"][:8])
def test_a_verifier_key_of_a_low_order_point_is_refused(encoding: dict[str, Any]) -> None:
    raw = bytes.fromhex(encoding["hex"])
    blob = base64.b64encode(b"\x01" + raw).decode()
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4].hex()
    with pytest.raises(LedgerError):
        parse_vkey(f"{ORIGIN}+{key_id}+{blob}")


# --- receipts: the index line and proof hashes --------------------------------------------


def receipt_extra(material: Material) -> bytes:
    """The JSON a receipt carries, base64-encoded, on its ``extra`` line."""
    line = material.receipt.decode().split("\n")[1]
    return base64.b64decode(line.removeprefix("extra "))


def receipt_with(
    material: Material,
    *,
    index: str | None = None,
    proof: str | None = None,
    extra: bytes | None = None,
) -> bytes:
    lines = material.receipt.decode().split("\n")
    assert lines[2] == f"index {material.note_index}"
    if index is not None:
        lines[2] = f"index {index}"
    if proof is not None:
        lines[3] = proof
    if extra is not None:
        lines[1] = "extra " + base64.b64encode(extra).decode()
    return "\n".join(lines).encode()


def digits(n: int, zero: str) -> str:
    """``n`` written with the ten digits that start at ``zero`` (e.g. Arabic-Indic)."""
    return "".join(chr(ord(zero) + int(d)) for d in str(n))


@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(lambda n: f"0{n}", id="leading zero"),
        pytest.param(lambda n: f"+{n}", id="plus sign"),
        pytest.param(lambda n: f"{n} ", id="trailing space"),
        pytest.param(lambda n: f" {n}", id="leading space"),
        pytest.param(lambda n: f"{n}.0", id="decimal point"),
        pytest.param(lambda n: f"0x{n:x}", id="hex"),
        pytest.param(lambda n: "-1", id="negative"),
        pytest.param(lambda n: "", id="empty"),
        pytest.param(lambda n: digits(n, "\u0660"), id="Arabic-Indic digits"),
        pytest.param(lambda n: digits(n, "\uff10"), id="full-width digits"),
        pytest.param(lambda n: "\u00b2", id="superscript two"),
    ],
)
def test_a_receipt_index_that_is_not_canonical_ascii_decimal_is_a_decode_error(
    material: Material, spell: Callable[[int], str]
) -> None:
    """The index is ``0`` or ``[1-9][0-9]*`` in ASCII, as tlog-proof writes it.

    Today ``str.isdigit`` admits every Unicode digit: ``int()`` then reads Arabic-Indic
    and full-width digits as the real index (a non-canonical receipt is accepted) and
    raises ``ValueError`` on a superscript two (an exception that is no LedgerError,
    which ``factledger check-receipt`` prints as a traceback).
    """
    with pytest.raises(DecodeError):
        check_receipt(
            receipt_with(material, index=spell(material.note_index)), OWNER.public.fingerprint
        )


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(lambda x: x.replace(b'"keys":', b'"keys\xff":'), id="invalid UTF-8"),
        pytest.param(
            lambda x: x.replace(b'"keys":', b'"keys\xed\xa0\x80":'), id="encoded surrogate"
        ),
        pytest.param(lambda x: b"\xef\xbb\xbf" + x, id="BOM"),
        pytest.param(lambda x: x[: len(x) // 2], id="truncated"),
        pytest.param(lambda x: b"[" * 100_000 + b"]" * 100_000, id="10^5 nested arrays"),
    ],
)
def test_a_receipt_whose_extra_is_not_a_json_key_chain_is_a_decode_error(
    material: Material, extra: Callable[[bytes], bytes]
) -> None:
    """Today invalid UTF-8 there escapes ``_parse_tlog_proof`` as ``UnicodeDecodeError``:
    msgspec raises it, and only ``msgspec.DecodeError``/``ValidationError`` are caught."""
    bad = receipt_with(material, extra=extra(receipt_extra(material)))
    with pytest.raises(DecodeError):
        check_receipt(bad, OWNER.public.fingerprint)


@pytest.mark.parametrize("damage", ["superscript index", "extra not UTF-8", "flipped proof"])
def test_check_receipt_command_refuses_a_damaged_receipt_with_one_line_and_exit_1(
    material: Material, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """Exit 1 means "not valid"; today two of these escape as a ValueError traceback and as
    exit 2 ("text that is not valid UTF-8", a usage error) respectively."""
    bad = {
        "superscript index": lambda: receipt_with(material, index="\u00b2"),
        "extra not UTF-8": lambda: receipt_with(
            material, extra=receipt_extra(material).replace(b'"keys":', b'"keys\xff":')
        ),
        "flipped proof": lambda: receipt_with(material, proof=base64.b64encode(bytes(32)).decode()),
    }[damage]()
    path = tmp_path / "receipt.txt"
    path.write_bytes(bad)
    code = main(["check-receipt", str(path), "--trust-root", OWNER.public.fingerprint])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert captured.out == ""
    assert captured.err.startswith("error:")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("how", ["url-safe", "unpadded", "trailing bits", "uppercase", "hex"])
def test_a_receipt_proof_hash_in_another_encoding_is_refused(material: Material, how: str) -> None:
    proof = material.receipt.decode().split("\n")[3]
    raw = base64.b64decode(proof)
    bad = {
        "url-safe": base64.urlsafe_b64encode(bytes([0xFB, 0xFF]) * 16).decode(),
        "unpadded": proof.rstrip("="),
        "trailing bits": proof[:-2] + ("B" if proof[-2] != "B" else "C") + "=",
        "uppercase": proof.upper(),
        "hex": raw.hex(),
    }[how]
    assert bad != proof
    with pytest.raises(LedgerError):
        check_receipt(receipt_with(material, proof=bad), OWNER.public.fingerprint)


# --- the Merkle tree: forged shapes --------------------------------------------------------


def test_an_interior_node_passed_off_as_a_leaf_does_not_reproduce_the_root() -> None:
    """Second preimage (RFC 9162 §2.1.1): ``l0 || l1`` as one leaf's data hashes with 0x00,
    the node over ``l0, l1`` with 0x01, so a two-leaf tree of such "leaves" is another tree."""
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(4)]
    forged = [merkle.leaf_hash(leaves[0] + leaves[1]), merkle.leaf_hash(leaves[2] + leaves[3])]
    assert merkle.node_hash(leaves[0], leaves[1]) != forged[0]
    assert merkle.root(forged) != merkle.root(leaves)
    proof = merkle.prove_inclusion(0, 4, leaves)
    with pytest.raises(InvalidProof):
        merkle.check_inclusion(0, 2, forged[0], proof[1:], merkle.root(leaves))


def test_duplicating_the_odd_last_leaf_changes_the_root() -> None:
    """CVE-2012-2459: a tree that duplicates an odd node gives two leaf lists one root."""
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(3)]
    assert merkle.root(leaves) != merkle.root([*leaves, leaves[-1]])


# --- memory ------------------------------------------------------------------------------


def traced_peak(handle: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with contextlib.suppress(LedgerError):
            handle()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def big_inputs(
    material: Material, scratch: Path
) -> Iterator[tuple[str, int, Callable[[], object]]]:
    """(name, input size, a call handling the input) for multi-megabyte hostile inputs."""
    claim = material.lines[3]
    huge_line = sub(claim, b'"text":"', b'"text":"' + b"x" * BIG)
    yield "decode_entry: a line of 4 MiB", len(huge_line), lambda: decode_entry(huge_line)
    almost = sub(claim, b'"text":"', b'"text":"' + b"x" * (MAX_LINE_BYTES - len(claim) - 8))
    yield "decode_entry: a line just under the limit", len(almost), lambda: decode_entry(almost)

    def verify_with(events: bytes, checkpoint: bytes = material.checkpoint) -> Callable[[], object]:
        (scratch / "events.jsonl").write_bytes(events)
        (scratch / "checkpoint").write_bytes(checkpoint)
        return lambda: run_verify(scratch, material.config)

    yield "verify: a complete line of 4 MiB", BIG, verify_with(material.events + huge_line + b"\n")
    yield "verify: a torn tail of 4 MiB", BIG, verify_with(material.events + huge_line)
    big_note = material.checkpoint + b"x" * BIG
    yield "verify: a checkpoint of 4 MiB", BIG, verify_with(material.events, big_note)
    note = material.checkpoint.decode() + "\u2014 w " * (BIG // 8)
    yield (
        "open_note: a note of 4 MiB",
        BIG,
        lambda: open_note(note, [NoteVerifier(ORIGIN, OWNER.public)]),
    )
    text = material.body_text + "x" * BIG + "\n"
    yield "parse_body: a body of 4 MiB", BIG, lambda: parse_body(text)
    doc = json.loads(material.dossier)
    doc["entries"][0]["line"] = "x" * BIG
    dossier = json.dumps(doc).encode()
    yield "check_receipt: a dossier of 4 MiB", len(dossier), lambda: check_receipt(dossier, "x")
    doc["entries"][0]["line"] = material.lines[3].decode()
    doc["claim"] = "x" * BIG
    padded = json.dumps(doc).encode()
    yield (
        "check_receipt: 4 MiB in an unchecked field",
        len(padded),
        lambda: check_receipt(padded, "x"),
    )
    many = material.receipt + b"\n" * BIG
    yield "check_receipt: a receipt of 4 MiB", len(many), lambda: check_receipt(many, "x")


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_multi_megabyte_inputs_are_handled_in_memory_proportional_to_their_size(
    material: Material, scratch: Path, report_count: Callable[[str], None]
) -> None:
    seen = []
    for name, size, handle in big_inputs(material, scratch):
        peak = traced_peak(handle)
        assert peak <= MEMORY_FACTOR * size, f"{name}: peak {peak >> 20} MiB for {size >> 20} MiB"
        seen.append(f"{name} {peak / size:.1f}x")
    report_count("tracemalloc peak / input size: " + "; ".join(seen))


# --- the command line's text output: terminal injection --------------------------------

HOSTILE_TEXT = (
    "evil \x1b]8;;https://attacker.example/\x07link\x1b]8;;\x07 \x1b[2J\x1b]0;title\x07"
    "\x9b31m \u202etxet\u202c \u2066iso\u2069 end"
)
HOSTILE_NAME = "Rui\x1b[8m\x1b]0;pwned\x07"
TERMINAL_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
"""C0 controls but tab and newline, DEL, C1 controls, and bidi overrides/isolates/marks."""


@pytest.fixture
def hostile_ledger(tmp_path: Path) -> tuple[Path, str]:
    """A ledger whose reviewer is named with escapes and whose claim text carries them,
    plus a verdict signed by that reviewer (outside its role), so verify names the key."""
    root = tmp_path / "claims"
    ledger = Ledger.init(root, origin=ORIGIN, key=OWNER, owner_name="Olga", now=lambda: NOW)
    rng = counter_rng("hostile")
    salt = lambda: base64.b64encode(rng(16)).decode()  # noqa: E731
    grant = KeyGrantedBody(
        salt=salt(), key=REVIEWER.public.openssh_line(), name=HOSTILE_NAME, role="reviewer"
    )
    granted = Draft("key.granted", REVIEWER.public.fingerprint, grant)
    ledger.append([granted], OWNER, now=lambda: NOW)
    claim = ClaimAssertedBody(
        salt=salt(), text=HOSTILE_TEXT, kind="factual", claimant=HOSTILE_TEXT, appearance=None,
        topics=[HOSTILE_TEXT],
    )  # fmt: skip
    (asserted,) = ledger.append(
        [Draft("claim.asserted", "clm_" + "h" * 12, claim)], REVIEWER, now=lambda: NOW
    )
    verdict = VerdictIssuedBody(
        salt=salt(), rating="false", rationale=HOSTILE_TEXT, revision=None, changes_rating=False
    )
    forged = seal(
        kind="verdict.issued", subject=asserted.entry.subject, parent=asserted.id,
        at=asserted.entry.at, body=verdict, key=REVIEWER,
    )  # fmt: skip
    with ledger.events_path.open("ab") as handle:
        handle.write(encode_entry(forged) + b"\n")
    return root, asserted.entry.subject


@pytest.mark.parametrize("command", ["log", "show", "history", "verify"])
def test_cli_text_output_passes_no_terminal_control_from_ledger_text(
    hostile_ledger: tuple[Path, str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ledger text is data, in the command line as in the TUI (research §3 row 17).

    A reviewer may write any text into a claim, and an admin any key name. Today
    ``show`` and ``history`` print claim text, and ``log`` and ``verify`` print key
    names, to the terminal as they are: escape sequences that clear the screen, set
    the window title or plant an OSC 8 hyperlink, C1 controls and bidi overrides all
    reach it. ``tests/tui/test_safe.py`` pins the TUI's defence (``tui.widgets.safe``).
    """
    root, claim = hostile_ledger
    if command in ("show", "history"):
        pytest.importorskip("ledger.projections", reason="the read side is absent")
    argv = {
        "log": ["log", "--ledger", str(root)],
        "show": ["show", claim, "--ledger", str(root)],
        "history": ["history", claim, "--ledger", str(root)],
        "verify": ["verify", str(root)],
    }[command]
    main(argv)
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "Rui" in shown or "evil" in shown, shown
    leaked = sorted({f"U+{ord(c):04X}" for c in TERMINAL_CONTROLS.findall(shown)})
    assert leaked == [], f"{command} printed terminal controls {leaked}"
