"""What keeps a single write verb's start-up short changes nothing it does (issue 7).

``factledger claim add`` registers only its own parser, reads an unencrypted OpenSSH
key without pyca's serialization package and a plain ``ledger.toml`` without tomllib.
Each shortcut must give exactly what the general path gives.
"""

from __future__ import annotations

import base64
import random
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ledger.cli import keyfile
from ledger.cli.main import build_parser
from ledger.config import LedgerConfig, _plain_toml
from ledger.errors import LedgerError
from ledger.keys import SigningKey, load_signing_key, save_signing_key

_PEM = (b"-----BEGIN OPENSSH PRIVATE KEY-----\n", b"-----END OPENSSH PRIVATE KEY-----\n")


def _same_key(path: Path) -> None:
    fast, general = keyfile.load_key(path, None), load_signing_key(path, None)
    assert fast.public == general.public
    assert fast.public.comment == general.public.comment
    assert fast.sign(b"message") == general.sign(b"message")


@pytest.mark.parametrize("comment", ["", "rui@example.org", "Rui Costa (laptop)"])
def test_an_unencrypted_key_loads_as_the_general_loader_reads_it(
    tmp_path: Path, comment: str
) -> None:
    path = tmp_path / "k.key"
    save_signing_key(SigningKey.from_seed(bytes(range(32)), comment), path, None)
    assert keyfile.openssh_seed(path.read_bytes()) == bytes(range(32))
    _same_key(path)


@pytest.mark.parametrize(
    "pub",
    ["", "{line}", "{line} ", "{line}  two", "{line} tab\there", "{line} x\n\n", "{other} c"],
)
def test_the_comment_comes_from_the_pub_file_only_as_the_general_loader_takes_it(
    tmp_path: Path, pub: str
) -> None:
    path = tmp_path / "k.key"
    save_signing_key(SigningKey.from_seed(b"\x07" * 32, "kept"), path, None)
    line = SigningKey.from_seed(b"\x07" * 32).public.openssh_line()
    other = SigningKey.from_seed(b"\x08" * 32).public.openssh_line()
    Path(f"{path}.pub").write_text(pub.format(line=line, other=other), encoding="utf-8")
    _same_key(path)
    Path(f"{path}.pub").unlink()
    _same_key(path)


def test_an_encrypted_key_takes_the_general_path(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = SigningKey.from_seed(b"\x09" * 32, "enc")
    save_signing_key(key, path, b"secret")
    assert keyfile.openssh_seed(path.read_bytes()) is None
    assert keyfile.load_key(path, b"secret").public == key.public


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_a_key_from_ssh_keygen_loads_as_the_general_loader_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@host", "-f", str(path)],
        check=True,
    )
    assert keyfile.openssh_seed(path.read_bytes()) is not None
    _same_key(path)


def test_what_the_fast_path_accepts_pyca_accepts_as_the_same_key(tmp_path: Path) -> None:
    """Damaged files: the fast path declines, or pyca reads the very same seed."""
    path = tmp_path / "k.key"
    save_signing_key(SigningKey.from_seed(b"\x05" * 32, "fuzz"), path, None)
    lines = path.read_bytes().split(b"\n")
    blob = base64.b64decode(b"".join(lines[1:-2]))
    rng = random.Random(7)
    accepted = 0
    for _ in range(400):
        data = bytearray(blob)
        for _ in range(rng.randint(1, 2)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)) :]
        text = base64.b64encode(bytes(data))
        wrapped = b"\n".join(text[i : i + 70] for i in range(0, len(text), 70))
        damaged = _PEM[0] + wrapped + b"\n" + _PEM[1]
        seed = keyfile.openssh_seed(damaged)
        if seed is None:
            continue
        path.write_bytes(damaged)
        try:
            general = load_signing_key(path, None)
        except LedgerError:
            pytest.fail("the fast path accepted a key file that pyca refuses")
        assert SigningKey.from_seed(seed).public == general.public
        accepted += 1
    assert accepted > 0  # damage to the check integers' twin or the comment is harmless


def test_claim_add_with_an_unencrypted_key_does_not_load_pycas_key_parsers(
    tmp_path: Path,
) -> None:
    key = tmp_path / "owner.key"
    save_signing_key(SigningKey.from_seed(b"\x03" * 32, "owner@example.org"), key, None)
    root = tmp_path / "claims"
    probe = (
        "import sys\n"
        "from ledger.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = ['cryptography.hazmat.primitives.serialization', 'tomllib']\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )

    def factledger(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", probe, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    init = factledger("init", str(root), "--origin", "example.org/c", "--key", str(key))
    assert init.returncode == 0, init.stderr
    added = factledger("claim", "add", "A claim.", "--ledger", str(root), "--key", str(key))
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("clm_")
    assert added.stderr.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["claim", "add", "text", "--claimant", "x", "--topic", "a", "--topic", "b"],
        ["claim", "add", "text", "--appears-in", "src_x", "--quote", "q", "--json"],
        ["source", "add", "--title", "t", "--kind", "dataset", "--reliability", "B"],
        ["claim", "verdict", "clm_x", "false", "--rationale", "r", "--parent", "e"],
        ["source", "note", "src_x", "a note", "--reply-to", "e", "--at", "2024-01-01T00:00Z"],
    ],
)
def test_one_verbs_parser_reads_its_arguments_as_the_full_parser_does(argv: list[str]) -> None:
    narrow = build_parser(argv[0], argv[1]).parse_args(argv)
    full = build_parser().parse_args(argv)
    assert vars(narrow) == vars(full)


def test_a_group_without_a_known_verb_still_lists_every_verb(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser("claim", "--help").parse_args(["claim", "--help"])
    shown = capsys.readouterr().out
    for verb in ("add", "correct", "attribute", "withdraw-attribution", "verdict", "status"):
        assert verb in shown


@pytest.mark.parametrize(
    "text",
    [
        LedgerConfig(origin="example.org/claims", trust_root="SHA256:abc").to_toml(),
        LedgerConfig(origin="é/ü", trust_root="SHA256:x", events="ev.jsonl").to_toml(),
        LedgerConfig(origin='a"b\\c', trust_root="t").to_toml(),
        'format = 1\norigin = "o"\ntrust_root = "t"\n',
        'format = 1\norigin = "o"\ntrust_root = "t"\n# a comment\n',
        'format = 1\r\norigin = "o"\r\ntrust_root = "t"\r\n',
        "format = 1\norigin = 'o'\ntrust_root = 't'\n",
        'format = 01\norigin = "o"\ntrust_root = "t"\n',
        'format = 1\norigin = "o"\norigin = "p"\ntrust_root = "t"\n',
    ],
)
def test_a_plain_config_reads_as_toml_reads_it(text: str) -> None:
    plain = _plain_toml(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert plain is None
        return
    assert plain is None or plain == expected
