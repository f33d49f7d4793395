"""A third party can verify a ledger from DESIGN §2-5 alone.

The verifier in this file is written only with ``json``, ``hashlib``, ``base64``
and ``cryptography``; it imports nothing from ``ledger``. It must accept the
independent format-vector ledger and a ledger written only through the
``factledger`` command line, and reject either after any single flipped byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = Path(__file__).resolve().parents[2] / "fixtures" / "vectors" / "factledger-format"
VECTORS: dict[str, Any] = json.loads((FORMAT / "vectors.json").read_text(encoding="utf-8"))
VECTOR_OWNER: str = next(k["fingerprint"] for k in VECTORS["keys"] if k["label"] == "owner")

# ======================================================================================
# The independent verifier
# ======================================================================================

ENTRY_PREFIX = b"factledger/v1/entry\n"
HEADER_FIELDS = ("at", "author", "kind", "parent", "subject", "v")
LINE_FIELDS = {*HEADER_FIELDS, "sig"}
SSH_PREFIX = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
MAX_SAFE = 2**53 - 1


class Rejected(Exception):
    """The ledger does not verify."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Rejected(f"duplicate key in {keys}")
    return dict(pairs)


def _no_floats(text: str) -> Any:
    raise Rejected(f"a number that is not an integer: {text}")


def canon(value: Any) -> bytes:
    """DESIGN §3: sorted keys, no whitespace, UTF-8, minimal escapes (JCS for these types)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _check_ints(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE:
            raise Rejected(f"integer {value} is not exactly representable as a double")
    elif isinstance(value, dict):
        for item in value.values():
            _check_ints(item)
    elif isinstance(value, list):
        for item in value:
            _check_ints(item)
    else:
        raise Rejected(f"unexpected JSON value {value!r}")


def parse_line(raw: bytes, lineno: int) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_floats,
            parse_constant=_no_floats,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(f"line {lineno}: not UTF-8 JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Rejected(f"line {lineno}: not an object")
    _check_ints(value)
    try:
        again = canon(value)
    except UnicodeEncodeError:
        raise Rejected(f"line {lineno}: a lone surrogate") from None
    if again != raw:
        raise Rejected(f"line {lineno}: not canonical")
    return value


def b64_strict(text: Any, size: int) -> bytes:
    """Standard base64 with padding, canonical spelling, exactly ``size`` bytes."""
    if not isinstance(text, str):
        raise Rejected("base64 field is not a string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise Rejected(f"not standard base64: {text[:20]}") from None
    if len(data) != size or base64.b64encode(data).decode() != text:
        raise Rejected(f"not the canonical base64 of {size} bytes: {text[:20]}")
    return data


def is_hex64(text: Any) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def parse_openssh(line: Any) -> bytes:
    """``ssh-ed25519 <base64 blob> [comment]`` → the 32-byte Ed25519 public key."""
    if not isinstance(line, str):
        raise Rejected("public key is not a string")
    parts = line.split(" ", 2)
    if len(parts) < 2 or parts[0] != "ssh-ed25519":
        raise Rejected(f"not an ssh-ed25519 key line: {line[:30]}")
    blob = b64_strict(parts[1], len(SSH_PREFIX) + 32)
    if not blob.startswith(SSH_PREFIX):
        raise Rejected("key blob is not ssh-ed25519")
    return blob[len(SSH_PREFIX) :]


def ssh_fingerprint(raw: bytes) -> str:
    digest = hashlib.sha256(SSH_PREFIX + raw).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def ed25519_verify(raw: bytes, sig: bytes, message: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(sig, message)
    except (InvalidSignature, ValueError):
        raise Rejected("Ed25519 signature does not verify") from None


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over leaf hashes (the event ids are already SHA-256(0x00 ‖ d))."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


@dataclass
class Verified:
    size: int
    root: bytes
    ids: list[str]


def verify_ledger(directory: Path, *, origin: str, trust_root: str) -> Verified:
    """Raise :class:`Rejected` unless ``directory`` holds a ledger valid per DESIGN §2-5."""
    try:
        return _verify(directory, origin, trust_root)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Rejected(f"malformed entry: {exc!r}") from None


def _verify(directory: Path, origin: str, trust_root: str) -> Verified:
    data = (directory / "events.jsonl").read_bytes()
    if not data.endswith(b"\n"):
        raise Rejected("the log does not end in a newline (torn write)")
    raws = data[:-1].split(b"\n")
    entries = [parse_line(raw, n) for n, raw in enumerate(raws, start=1)]

    targets = {
        e["body"].get("target")
        for e in entries
        if e.get("kind") == "entry.redacted" and isinstance(e.get("body"), dict)
    }
    keys: dict[str, bytes] = {}
    revoked: set[str] = set()
    heads: dict[str, str] = {}
    ids: list[str] = []
    for n, entry in enumerate(entries, start=1):
        fields = set(entry)
        has_body, has_hash = "body" in fields, "body_hash" in fields
        if has_body == has_hash or fields - {"body", "body_hash"} != LINE_FIELDS:
            raise Rejected(f"line {n}: wrong fields {sorted(fields)}")
        if entry["v"] != 1 or isinstance(entry["v"], bool):
            raise Rejected(f"line {n}: version {entry['v']!r}")
        body = entry.get("body")
        if has_body:
            if not isinstance(body, dict) or not isinstance(body.get("salt"), str):
                raise Rejected(f"line {n}: body without salt")
            b64_strict(body["salt"], 16)
            body_hash = hashlib.sha256(canon(body)).hexdigest()
        else:
            body_hash = entry["body_hash"]
            if not is_hex64(body_hash):
                raise Rejected(f"line {n}: body_hash is not lowercase hex SHA-256")
        header = {name: entry[name] for name in HEADER_FIELDS} | {"body_hash": body_hash}
        sig = b64_strict(entry["sig"], 64)

        if n == 1:
            if entry["kind"] != "ledger.created" or entry["subject"] != "ledger":
                raise Rejected("line 1 is not ledger.created")
            if entry["parent"] is not None or not has_body:
                raise Rejected("genesis has a parent or no body")
            owner = parse_openssh(body["owner"])
            if ssh_fingerprint(owner) != trust_root or body["origin"] != origin:
                raise Rejected("genesis owner or origin is not the pinned one")
            keys[ssh_fingerprint(owner)] = owner
        elif entry["kind"] == "ledger.created":
            raise Rejected(f"line {n}: a second genesis")
        author = entry["author"]
        if author not in keys or author in revoked:
            raise Rejected(f"line {n}: signed by a key that is not (or no longer) granted")
        ed25519_verify(keys[author], sig, ENTRY_PREFIX + canon(header))

        leaf_input = canon(header | {"sig": entry["sig"]})
        eid = hashlib.sha256(b"\x00" + leaf_input).hexdigest()
        if eid in ids:
            raise Rejected(f"line {n}: duplicate event id")
        if entry["parent"] != heads.get(entry["subject"]):
            raise Rejected(f"line {n}: parent is not the head of {entry['subject']}")
        heads[entry["subject"]] = eid
        if not has_body and eid not in targets:
            raise Rejected(f"line {n}: body removed without an entry.redacted")
        ids.append(eid)

        if has_body and entry["kind"] == "key.granted":
            raw_key = parse_openssh(body["key"])
            if ssh_fingerprint(raw_key) != entry["subject"]:
                raise Rejected(f"line {n}: grant filed under another fingerprint")
            keys[entry["subject"]] = raw_key
        elif has_body and entry["kind"] == "key.revoked":
            revoked.add(entry["subject"])

    root = merkle_root([bytes.fromhex(i) for i in ids])
    check_checkpoint(
        (directory / "checkpoint").read_bytes(), origin, len(ids), root, list(keys.values())
    )
    return Verified(len(ids), root, ids)


def check_checkpoint(
    note: bytes, origin: str, size: int, root: bytes, candidates: list[bytes]
) -> None:
    """C2SP signed-note around a tlog-checkpoint, signed under ``origin`` by a ledger key."""
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("checkpoint is not UTF-8") from None
    body, sep, signatures = text.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise Rejected("checkpoint is not a signed note")
    body += "\n"
    if body != f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n":
        raise Rejected("checkpoint body does not match the log's origin, size and root")
    key_ids = {
        hashlib.sha256(origin.encode() + b"\n" + b"\x01" + raw).digest()[:4]: raw
        for raw in candidates
    }
    verified = 0
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Rejected(f"not a signature line: {line[:30]!r}")
        name, _, blob_b64 = line[2:].rpartition(" ")
        blob = b64_strict(blob_b64, 68)
        if name != origin or blob[:4] not in key_ids:
            continue
        ed25519_verify(key_ids[blob[:4]], blob[4:], body.encode())
        verified += 1
    if verified == 0:
        raise Rejected("no checkpoint signature by a key of this ledger")


# ======================================================================================
# Ledgers to verify
# ======================================================================================


@dataclass(frozen=True)
class Built:
    directory: Path
    origin: str
    trust_root: str
    redacted_event: str


def copy_ledger(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("events.jsonl", "checkpoint"):
        shutil.copyfile(source / name, target / name)
    return target


def factledger_command() -> list[str]:
    script = Path(sys.executable).with_name("factledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ledger.cli.main"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FACTLEDGER_")}


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [*factledger_command(), *map(str, args)],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (args, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout.strip()


def times() -> Iterator[str]:
    for day in range(1, 29):
        yield f"2024-03-{day:02d}T09:00:00Z"


class Session:
    """Runs ``factledger`` in one work directory, signing with ``KEY.key`` at rising times."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.times = times()

    def __call__(self, *args: str, key: str | None = None) -> str:
        signing = ()
        if key is not None:
            signing = ("--ledger", "claims", "--key", f"{key}.key", "--at", next(self.times))
        return run(*args, *signing, cwd=self.work)


@pytest.fixture(scope="module")
def cli_ledger(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A ledger written only through the command line: keys, roles, claims, a redaction."""
    work = tmp_path_factory.mktemp("cli")
    fl = Session(work)
    origin = "example.org/cli-claims"
    owner_fp = fl("key", "new", "owner.key", "--comment", "owner@example.org")
    fl("key", "new", "editor.key")
    fl("key", "new", "reviewer.key")
    fl("init", "claims", "--origin", origin, "--key", "owner.key", "--at", next(fl.times))
    fl("key", "grant", "editor.key.pub", "--name", "Edna", "--role", "editor", key="owner")
    fl("key", "grant", "reviewer.key.pub", "--name", "Rui", "--role", "reviewer", key="owner")
    src1 = fl("source", "add", "--title", "Gauge records", "--kind", "dataset",
              "--reliability", "A", key="reviewer")  # fmt: skip
    src2 = fl("source", "add", "--title", "Mayor's speech «river»", "--kind", "statement",
              "--url", "https://example.org/speech", key="reviewer")  # fmt: skip
    clm1 = fl("claim", "add", "The river rose 2 m — a record", "--claimant", "the mayor",
              "--appears-in", src2, "--quote", "two metres", "--locator", "para 3",
              "--topic", "floods", key="reviewer")  # fmt: skip
    clm2 = fl("claim", "add", "Rain fell for 40 days 🌧", key="editor")
    fl("claim", "attribute", clm1, src1, "--stance", "disputes", "--credibility", "2",
       key="reviewer")  # fmt: skip
    attr2 = fl("claim", "attribute", clm1[:8], src2[:8], "--stance", "context",
               "--quote", 'said "two"\tmetres', key="reviewer")  # fmt: skip
    fl("claim", "correct", clm1, "The river rose 2.1 m", "--kind", "substantive",
       "--reason", "transcript", key="reviewer")  # fmt: skip
    fl("claim", "withdraw-attribution", clm1, src2, "--reason", "misquoted", key="reviewer")
    fl("claim", "verdict", clm1, "false", "--rationale", "gauges show 0.4 m", key="editor")
    fl("claim", "note", clm2, "needs a source", key="reviewer")
    fl("key", "revoke", "Rui", "--reason", "retired", key="owner")
    fl("redact", attr2, "--reason", "quote names a private person", key="owner")
    return Built(work / "claims", origin, owner_fp, attr2)


@pytest.fixture
def vector_ledger(tmp_path: Path) -> Built:
    target = copy_ledger(FORMAT / "ledger", tmp_path / "vectors")
    redacted = VECTORS["entries"][7]["event_id"]
    return Built(target, VECTORS["origin"], VECTOR_OWNER, redacted)


def flip(path: Path, offset: int, mask: int = 0x01) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


# ======================================================================================
# Tests
# ======================================================================================


def test_verifier_accepts_the_format_vector_ledger_and_reproduces_its_root(
    vector_ledger: Built,
) -> None:
    done = verify_ledger(
        vector_ledger.directory, origin=vector_ledger.origin, trust_root=vector_ledger.trust_root
    )
    assert done.size == VECTORS["tree_size"] == 12
    assert done.root.hex() == VECTORS["merkle_root_hex"]
    assert done.ids == [e["event_id"] for e in VECTORS["entries"]]


def test_verifier_accepts_a_ledger_written_only_by_the_cli(cli_ledger: Built) -> None:
    done = verify_ledger(
        cli_ledger.directory, origin=cli_ledger.origin, trust_root=cli_ledger.trust_root
    )
    assert done.size == 15
    lines = (cli_ledger.directory / "events.jsonl").read_bytes().splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds == [
        "ledger.created",
        "key.granted",
        "key.granted",
        "source.registered",
        "source.registered",
        "claim.asserted",
        "claim.asserted",
        "source.attributed",
        "source.attributed",
        "claim.corrected",
        "attribution.withdrawn",
        "verdict.issued",
        "note.added",
        "key.revoked",
        "entry.redacted",
    ]


def test_cli_redaction_left_the_target_in_header_form(cli_ledger: Built) -> None:
    lines = (cli_ledger.directory / "events.jsonl").read_bytes().splitlines()
    headers = [json.loads(line) for line in lines if b'"body_hash"' in line]
    assert len(headers) == 1
    assert headers[0]["kind"] == "source.attributed"
    assert "body" not in headers[0]
    assert b"private person" in lines[-1]


def test_verifier_rejects_the_vector_ledger_with_another_trust_root(vector_ledger: Built) -> None:
    editor = next(k["fingerprint"] for k in VECTORS["keys"] if k["label"] == "editor")
    with pytest.raises(Rejected):
        verify_ledger(vector_ledger.directory, origin=vector_ledger.origin, trust_root=editor)


def test_verifier_rejects_a_body_removed_without_a_redaction_entry(vector_ledger: Built) -> None:
    """Signatures, ids and root all survive this; only the redaction rule catches it."""
    path = vector_ledger.directory / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    entry = json.loads(lines[3])
    entry["body_hash"] = hashlib.sha256(canon(entry.pop("body"))).hexdigest()
    lines[3] = canon(entry)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(Rejected, match=r"without an entry\.redacted"):
        verify_ledger(
            vector_ledger.directory,
            origin=vector_ledger.origin,
            trust_root=vector_ledger.trust_root,
        )


def test_verifier_rejects_a_log_missing_its_last_entry(vector_ledger: Built) -> None:
    path = vector_ledger.directory / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:-2]) + b"\n")
    with pytest.raises(Rejected, match="checkpoint"):
        verify_ledger(
            vector_ledger.directory,
            origin=vector_ledger.origin,
            trust_root=vector_ledger.trust_root,
        )


def _rejections(built: Built, tmp_path: Path, name: str, stride: int) -> list[int]:
    """Offsets at which a flipped byte of ``name`` was NOT rejected (should be none)."""
    size = (built.directory / name).stat().st_size
    accepted = []
    for n, offset in enumerate(range(0, size, stride)):
        copy = copy_ledger(built.directory, tmp_path / f"{name}-{n}")
        flip(copy / name, offset)
        try:
            verify_ledger(copy, origin=built.origin, trust_root=built.trust_root)
        except Rejected:
            pass
        else:
            accepted.append(offset)
        shutil.rmtree(copy)
    return accepted


@pytest.mark.parametrize(("name", "stride"), [("events.jsonl", 7), ("checkpoint", 3)])
def test_verifier_rejects_the_vector_ledger_after_any_flipped_byte(
    vector_ledger: Built, tmp_path: Path, name: str, stride: int
) -> None:
    assert _rejections(vector_ledger, tmp_path, name, stride) == []


@pytest.mark.parametrize(("name", "stride"), [("events.jsonl", 11), ("checkpoint", 3)])
def test_verifier_rejects_the_cli_ledger_after_any_flipped_byte(
    cli_ledger: Built, tmp_path: Path, name: str, stride: int
) -> None:
    assert _rejections(cli_ledger, tmp_path, name, stride) == []
