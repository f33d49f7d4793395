"""Values a user or a script gets wrong, refused with one line before anything is written.

An empty value usually comes from an unset shell variable (``--void-after "$LAST"``),
and read as "not given" it did harm: it voided every entry of a key, listed every
claim, or verified some other ledger. Each case here was accepted before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.keys import SigningKey, parse_public_key, save_signing_key
from tests.cli.support import (
    EVENT_ID,
    Keys,
    Run,
    add_claim,
    add_source,
    factledger,
    files,
    log_json,
)

pytestmark = pytest.mark.usefixtures("isolated")

FULL = Path("/dev/full")


def ids(run: Run, keys: Keys) -> dict[str, str]:
    claim = add_claim(run, keys)
    source = add_source(run, keys)
    last = run("log", "--json").out.splitlines()[-1]
    return {"claim": claim, "source": source, "event": json.loads(last)["id"]}


def made(root: Path) -> list[Path]:
    """Every file and directory under ``root`` but the caches, which reads may refresh."""
    return sorted(p for p in root.rglob("*") if ".cache" not in p.parts)


EMPTY_VALUES = [
    ("key", "revoke", "Rui", "--reason", "compromised", "--void-after", "", "--key", "{owner}"),
    ("key", "grant", "{reviewer}.pub", "--name", " ", "--role", "editor", "--key", "{owner}"),
    ("redact", "{event}", "--reason", "", "--key", "{owner}"),
    ("claim", "note", "{claim}", "a note", "--reply-to", "", "--key", "{reviewer}"),
    ("claim", "add", "Text.", "--appears-in", "", "--key", "{reviewer}"),
    ("claim", "add", "Text.", "--key", ""),  # not $FACTLEDGER_KEY's key instead
    ("log", "--claim", ""),
    ("log", "--ledger", ""),
    ("verify", ""),
    ("prove", "{claim}", "-o", ""),
    ("export", "claimreview", "-o", ""),
    ("key", "new", ""),
    ("init", "", "--origin", "example.org/x", "--key", "{owner}"),
    ("init", "{tmp}/new", "--origin", " ", "--key", "{owner}"),
    ("merge", ""),  # these three read the current directory
    ("check-receipt", "", "--trust-root", "SHA256:cMucLRnf0Rb9q+dECBCiDDTHvlRgzRmoRNqGWsUagbE"),
    ("key", "grant", "", "--name", "X", "--role", "reviewer", "--key", "{owner}"),
]


@pytest.mark.parametrize("argv", EMPTY_VALUES, ids=lambda argv: " ".join(argv[:2]))
def test_an_empty_value_is_a_usage_error_and_writes_nothing(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, argv: tuple[str, ...]
) -> None:
    names = {**ids(run, keys), "owner": str(keys.owner), "reviewer": str(keys.reviewer)}
    before = files(ledger_dir), made(tmp_path)
    result = run(*(word.format(tmp=tmp_path, **names) for word in argv))
    assert result.code == 2, result
    assert "empty" in result.one_error_line()
    assert result.out == ""  # in particular, `log --claim ""` lists no claim at all
    assert (files(ledger_dir), made(tmp_path)) == before


def test_granting_a_file_that_is_not_text_is_a_usage_error(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    binary = tmp_path / "key.der"
    binary.write_bytes(bytes(range(256)))  # a DER key, or any file that is not a .pub
    before = files(ledger_dir)
    result = run("key", "grant", binary, "--name", "X", "--role", "reviewer", "--key", keys.owner)
    assert result.code == 2
    assert f"{binary} is not a public key (not UTF-8 text)" in result.one_error_line()
    assert files(ledger_dir) == before


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--workers", "0"),
        ("--workers", "-1"),
        ("--workers", "many"),
        ("--trust-root", "nonsense"),
        ("--trust-root", "SHA256:short"),
        ("--trust-root", "SHA256:" + "!" * 43),
    ],
)
def test_verify_refuses_a_value_that_cannot_mean_anything(
    run: Run, ledger_dir: Path, option: str, value: str
) -> None:
    result = run("verify", option, value, "--unsafe-allow-test-keys")
    assert result.code == 2  # a usage error, not a verification finding (exit 1)
    assert f"argument {option}" in result.one_error_line()


def test_a_well_formed_trust_root_that_differs_is_still_a_finding(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    other = "SHA256:" + "A" * 43
    result = run("verify", "--trust-root", other, "--unsafe-allow-test-keys")
    assert result.code == 1
    assert "[genesis]" in result.out


def test_check_receipt_refuses_a_trust_root_that_is_no_fingerprint(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    claim = add_claim(run, keys)
    receipt = tmp_path / "dossier.json"
    assert run("prove", claim, "-o", receipt).code == 0
    result = run("check-receipt", receipt, "--trust-root", "owner")
    assert result.code == 2
    assert "not a key fingerprint" in result.one_error_line()


def test_granting_a_missing_public_key_file_names_the_file(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    before = files(ledger_dir)
    missing = tmp_path / "nobody.pub"
    result = run("key", "grant", missing, "--name", "N", "--role", "reviewer", "--key", keys.owner)
    assert result.code == 3
    line = result.one_error_line()
    assert f"{missing}: no such file" in line
    assert "not an ssh-ed25519 public key" not in line
    assert files(ledger_dir) == before


def test_a_public_key_file_whose_path_has_a_space_is_read_as_a_file(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    spaced = tmp_path / "my keys" / "rui.key.pub"
    spaced.parent.mkdir()
    spaced.write_bytes(Path(f"{keys.reviewer}.pub").read_bytes())
    result = run("key", "grant", spaced, "--name", "R", "--role", "editor", "--key", keys.owner)
    assert result.code == 0, result.err


def test_a_public_key_line_with_another_type_says_what_is_wrong_with_it(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    result = run("key", "grant", "ecdsa-sha2-nistp256 AAAA x", "--name", "N", "--role",
                 "reviewer", "--key", keys.owner)  # fmt: skip
    assert result.code == 2
    assert "not an ssh-ed25519 public key" in result.one_error_line()


# --- stdout that cannot take the output ---------------------------------------------


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (a device that is always full)")
def test_an_id_that_cannot_be_printed_is_named_on_stderr_so_nobody_appends_it_twice(
    keys: Keys, ledger_dir: Path
) -> None:
    script = Path(sys.executable).with_name("factledger")
    with FULL.open("w") as full:
        done = subprocess.run(
            [str(script), "claim", "add", "A claim.", "--key", str(keys.reviewer)],
            cwd=ledger_dir,
            stdout=full,
            stderr=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if not k.startswith("FACTLEDGER_")},
            timeout=60,
            check=False,
        )
    err = done.stderr.decode()
    assert done.returncode == 3
    assert err.startswith("error: appended event ")
    assert err.count("\n") == 1, err  # one line, no traceback
    assert "could not print it to stdout: No space left on device" in err
    assert "do not run the command again" in err
    named = EVENT_ID.search(err)
    assert named is not None
    last = json.loads(factledger("log", "--json", cwd=ledger_dir).stdout.splitlines()[-1])
    assert last["id"] == named.group(0)  # the entry the message names is the one written
    assert last["entry"]["body"]["text"] == "A claim."


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (a device that is always full)")
def test_a_read_verb_writing_to_a_full_disk_is_one_error_line(ledger_dir: Path) -> None:
    script = Path(sys.executable).with_name("factledger")
    with FULL.open("w") as full:
        done = subprocess.run(
            [str(script), "log"], cwd=ledger_dir, stdout=full, stderr=subprocess.PIPE,
            timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.decode() == "error: No space left on device\n"


# --- verify --format json when there is no report -------------------------------------


def test_verify_json_reports_a_broken_ledger_toml_as_a_config_finding(
    run: Run, ledger_dir: Path
) -> None:
    config = ledger_dir / "ledger.toml"
    lines = config.read_text().splitlines(keepends=True)
    config.write_text("".join([lines[0], "[[broken\n", *lines[1:]]))
    result = run("verify", "--format", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["ok"] is False
    assert doc["exit_code"] == 1
    assert doc["error"] == result.one_error_line().removeprefix("error: ")
    [finding] = doc["findings"]
    assert finding["rule"] == "config"
    assert finding["file"] == "ledger.toml"
    assert finding["line"] == 2  # the broken line, as TOML names it
    assert doc["counts"] == {"error": 1, "notice": 0}
    assert "not valid TOML" in finding["message"]


def test_a_ledger_toml_that_is_not_utf8_is_a_config_finding_on_its_line_not_a_read_error(
    run: Run, ledger_dir: Path
) -> None:
    """The file was read; what it holds is wrong, as a broken TOML line is: exit 1, not 3."""
    config = ledger_dir / "ledger.toml"
    lines = config.read_bytes().splitlines(keepends=True)
    config.write_bytes(b"".join([*lines[:2], b"# caf\xe9 (Latin-1)\n", *lines[2:]]))
    result = run("verify", "--format", "json")
    assert result.code == 1
    [finding] = json.loads(result.out)["findings"]
    assert (finding["rule"], finding["file"], finding["line"]) == ("config", "ledger.toml", 3)
    assert "not UTF-8 text" in finding["message"]
    for command in (("log",), ("show", "clm_x")):
        refused = run(*command)
        assert refused.code == 1
        assert "ledger.toml:3: [config] not UTF-8 text" in refused.one_error_line()


def test_verify_json_reports_a_missing_ledger_with_its_exit_code(run: Run, tmp_path: Path) -> None:
    result = run("verify", tmp_path / "nowhere", "--format", "json")
    assert result.code == 3
    doc = json.loads(result.out)
    assert doc == {
        "version": 1,
        "ok": False,
        "error": result.one_error_line().removeprefix("error: "),
        "exit_code": 3,
        "counts": {"error": 0, "notice": 0},
        "findings": [],
    }


@pytest.mark.parametrize("command", ["verify", "tui"])
def test_a_ledger_named_twice_differently_is_refused_not_one_silently_used(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, command: str
) -> None:
    other = tmp_path / "other"
    assert run("init", other, "--origin", "example.org/other", "--key", keys.owner).code == 0
    result = run(command, ledger_dir, "--ledger", other)
    assert result.code == 2
    assert result.out == ""
    assert f"two ledgers are named: {ledger_dir} and --ledger {other}" in result.one_error_line()


def test_a_ledger_named_twice_as_the_same_directory_is_verified(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    add_claim(run, keys)
    result = run("verify", ".", "--ledger", ledger_dir, "--unsafe-allow-test-keys")
    assert result.code == 0, result.err


# --- the signing key: a warning only about a private key, a prompt only for a locked one


def test_a_public_key_given_as_the_signing_key_is_one_error_and_no_prompt(
    run: Run, keys: Keys, ledger_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = Path(f"{keys.reviewer}.pub")
    public.chmod(0o644)  # as ssh-keygen writes it
    asked: list[str] = []

    def prompt(text: str = "") -> str:
        asked.append(text)
        return "pw"

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", prompt)
    result = run("claim", "add", "A claim.", "--key", public)
    assert result.code == 2
    assert "this is a public key; pass the private key file" in result.one_error_line()
    assert "warning" not in result.err  # no advice to chmod 600 a public key
    assert asked == []  # and no passphrase asked for a file that is no private key


def test_an_empty_passphrase_in_the_environment_is_the_answer_not_a_prompt(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "keys" / "locked.key"
    save_signing_key(SigningKey.from_seed(b"\x05" * 32, "locked@example.org"), locked, b"pw")
    asked: list[str] = []

    def prompt(text: str = "") -> str:
        asked.append(text)
        return "pw"

    monkeypatch.setenv("FACTLEDGER_PASSPHRASE", "")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", prompt)
    result = run("claim", "add", "A claim.", "--key", locked)
    assert result.code == 2
    assert "encrypted and no passphrase was given" in result.one_error_line()
    assert asked == []  # a CI job that set the variable is never left waiting at a prompt


@pytest.mark.parametrize("how", ["environment", "prompt"])
def test_an_empty_passphrase_for_a_new_key_is_refused_not_written_unencrypted(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """`key new --encrypt` (or the variable set) promises an encrypted key; an empty
    passphrase wrote one anybody could read."""
    path = tmp_path / "new.key"
    if how == "environment":
        monkeypatch.setenv("FACTLEDGER_PASSPHRASE", "")
        result = run("key", "new", path)
    else:
        monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
        monkeypatch.setattr("getpass.getpass", lambda text="": "")
        result = run("key", "new", path, "--encrypt")
    assert result.code == 2
    assert "unencrypted" in result.one_error_line()
    assert not path.exists()
    assert not Path(f"{path}.pub").exists()


def test_an_exposed_private_key_is_warned_about_before_its_passphrase_is_asked(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "keys" / "locked.key"
    save_signing_key(SigningKey.from_seed(b"\x05" * 32, "locked@example.org"), locked, b"pw")
    locked.chmod(0o644)
    seen: list[str] = []

    def prompt(text: str = "") -> str:
        seen.append(sys.stderr.getvalue())  # type: ignore[union-attr]  # capsys's buffer
        return "pw"

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", prompt)
    result = run("claim", "note", add_claim(run, keys), "Noted.", "--key", locked)
    assert result.code == 1  # the key was never granted: a rule refusal, after loading it
    assert "[unknown-key]" in result.one_error_line()
    assert len(seen) == 1
    assert "readable by other users" in seen[0]  # told before the prompt
    assert result.err.startswith(f"warning: key file {locked} is readable by other users")


# --- -o FILE: never the ledger's own files, never half a file --------------------------


@pytest.mark.parametrize("verb", ["prove", "export"])
@pytest.mark.parametrize("name", ["events.jsonl", "checkpoint", "ledger.toml"])
def test_an_output_over_one_of_the_ledgers_own_files_is_refused(
    run: Run, keys: Keys, ledger_dir: Path, verb: str, name: str
) -> None:
    claim = add_claim(run, keys)
    before = files(ledger_dir)
    argv = ["prove", claim] if verb == "prove" else ["export", "claimreview"]
    result = run(*argv, "-o", Path("sub", "..", name))  # also when spelled another way
    assert result.code == 2
    assert "is this ledger's " in result.one_error_line()
    assert files(ledger_dir) == before


def test_an_output_that_is_a_directory_is_refused(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    result = run("prove", add_claim(run, keys), "-o", tmp_path)
    assert result.code == 2
    assert f"{tmp_path} is a directory" in result.one_error_line()


def test_prove_to_dash_writes_to_stdout_like_export(run: Run, keys: Keys, ledger_dir: Path) -> None:
    claim = add_claim(run, keys)
    to_stdout = run("prove", claim)
    dashed = run("prove", claim, "-o", "-")
    assert dashed.code == 0
    assert dashed.out == to_stdout.out
    assert not Path("-").exists()


def test_an_export_that_fails_midway_leaves_the_previous_file_whole(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = add_claim(run, keys)
    assert (
        run("claim", "verdict", claim, "false", "--rationale", "no", "--key", keys.owner).code == 0
    )
    target = tmp_path / "claimreview.json"
    assert run("export", "claimreview", "-o", target).code == 0
    good = target.read_bytes()
    assert run("claim", "note", claim, "more", "--key", keys.reviewer).code == 0

    def no_space(fd: int) -> None:
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(os, "fsync", no_space)
    result = run("export", "claimreview", "-o", target)
    assert result.code == 3
    assert "No space left on device" in result.one_error_line()
    assert target.read_bytes() == good
    assert json.loads(good)  # still the whole document


def test_an_output_into_a_fifo_is_written_into_not_replaced(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    import stat
    import threading

    claim = add_claim(run, keys)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run("prove", claim, "-o", fifo)
    reader.join(timeout=30)
    assert result.code == 0, result.err
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the pipe, not a regular file
    assert got == [run("prove", claim).out.encode()]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("²", "neither a sequence number nor a date"),  # str.isdigit, but int() refuses it
        ("٣", "neither a sequence number nor a date"),  # Arabic-Indic 3: was taken as 3
        ("9" * 5000, "is outside the log"),  # past int()'s digit limit
        ("99999999999999999999", "is outside the log"),
        ("", "the position is empty"),  # was read as 0, the first entry
        ("  ", "the position is empty"),
    ],
    ids=["superscript", "arabic-indic", "5000-digits", "20-digits", "empty", "blank"],
)
def test_an_as_of_that_is_no_ascii_position_is_one_usage_line(
    run: Run, keys: Keys, ledger_dir: Path, value: str, says: str
) -> None:
    result = run("show", add_claim(run, keys), "--as-of", value)
    assert result.code == 2
    assert says in result.one_error_line()
    assert len(result.one_error_line()) < 200


def test_query_json_refuses_two_columns_of_one_name_instead_of_dropping_one(
    run: Run, ledger_dir: Path
) -> None:
    result = run("query", "--json", "SELECT 1 AS a, 2 AS a")
    assert result.code == 2
    assert "two columns are named 'a'" in result.one_error_line()
    assert json.loads(run("query", "--json", "SELECT 1 AS a, 2 AS b").out) == [{"a": 1, "b": 2}]


def test_a_redaction_by_an_editor_says_only_an_admin_may(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    names = ids(run, keys)
    result = run("redact", names["event"], "--reason", "erasure request", "--key", keys.editor)
    assert result.code == 1
    line = result.one_error_line()
    assert "[role]" in line
    assert "ask an admin to sign it" in line
    verdict = run("claim", "verdict", names["claim"], "false", "--rationale", "no",
                  "--key", keys.reviewer)  # fmt: skip
    assert "ask an editor or admin to sign it" in verdict.one_error_line()


def test_proving_against_a_checkpoint_a_crash_left_behind_points_at_repair(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    behind = (ledger_dir / "checkpoint").read_bytes()
    claim = add_claim(run, keys)
    (ledger_dir / "checkpoint").write_bytes(behind)
    result = run("prove", claim)
    assert result.code == 1
    assert "factledger repair --key KEY" in result.one_error_line()
    assert run("repair", "--key", keys.owner).code == 0
    assert run("prove", claim).code == 0


# --- merge: say which file and line, and what the other file is -----------------------


@pytest.fixture
def theirs(run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path) -> Path:
    """Their branch: a copy of ours with two claims of their own; ours adds one too."""
    other = tmp_path / "theirs"
    shutil.copytree(ledger_dir, other)
    for text in ("Their first.", "Their second."):
        assert run("claim", "add", text, "--key", keys.reviewer, "--ledger", other).code == 0
    add_claim(run, keys, "Our own.")
    return other / "events.jsonl"


def test_merging_another_ledgers_log_says_so(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    assert run("demo", demo, "--no-open").code == 0
    before = files(ledger_dir)
    result = run("merge", demo / "events.jsonl", "--key", keys.owner, "--ledger", ledger_dir)
    assert result.code == 2  # not a fork of "ledger": another ledger altogether
    assert "is the log of another ledger" in result.one_error_line()
    assert files(ledger_dir) == before


def test_an_altered_entry_of_theirs_is_named_at_its_line_not_called_a_fork(
    run: Run, keys: Keys, ledger_dir: Path, theirs: Path
) -> None:
    lines = theirs.read_bytes().split(b"\n")
    lines[-2] = lines[-2].replace(b"Their second.", b"Their third.")
    theirs.write_bytes(b"\n".join(lines))
    before = files(ledger_dir)
    result = run("merge", theirs, "--key", keys.reviewer)
    assert result.code == 1
    line = result.one_error_line()
    assert line.startswith(f"error: {theirs}:{len(lines) - 1}: [signature] ")
    assert files(ledger_dir) == before


def test_a_torn_file_of_theirs_does_not_send_the_user_to_repair_ours(
    run: Run, keys: Keys, ledger_dir: Path, theirs: Path
) -> None:
    theirs.write_bytes(theirs.read_bytes()[:-20])
    result = run("merge", theirs, "--key", keys.reviewer)
    assert result.code == 1
    line = result.one_error_line()
    assert f"{theirs}:" in line
    assert "[torn-tail]" in line
    assert "'factledger repair'" not in line
    assert "copy it again" in line


def test_a_merge_of_a_file_that_is_not_there_names_it_as_the_other_branchs(
    run: Run, ledger_dir: Path, tmp_path: Path
) -> None:
    result = run("merge", tmp_path / "nosuch.jsonl")
    assert result.code == 3
    line = result.one_error_line()
    assert line.startswith(f"error: {tmp_path / 'nosuch.jsonl'}: no such file; name the other")
    assert "is this a ledger" not in line  # ours is; the other file is missing


def test_a_merge_with_nothing_to_merge_needs_no_key(run: Run, ledger_dir: Path) -> None:
    result = run("merge", "/dev/null")
    assert result.code == 0, result.err
    assert "nothing to merge" in result.err


def test_a_merge_of_a_clean_branch_still_lands_every_entry_once(
    run: Run, keys: Keys, ledger_dir: Path, theirs: Path
) -> None:
    keyless = run("merge", theirs)  # it said it "signs an entry": it signs no entry
    assert keyless.code == 2
    assert "this command re-signs the checkpoint over what it appends and needs a key" in (
        keyless.one_error_line()
    )
    result = run("merge", theirs, "--key", keys.reviewer)
    assert result.code == 0, result.err
    assert len(result.out.split()) == 2
    assert run("merge", theirs, "--key", keys.reviewer).out == ""  # a second time: nothing
    assert run("verify", "--unsafe-allow-test-keys").code == 0


def forked(run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path) -> tuple[str, str, Path]:
    """Both branches note one claim from the same head; theirs also notes it again and
    adds a claim of its own. Returns (the forked claim, their own claim, their log)."""
    claim = add_claim(run, keys, "Shared.")
    other = tmp_path / "forked"
    shutil.copytree(ledger_dir, other)
    theirs = ("--key", keys.reviewer, "--ledger", other)
    assert run("claim", "note", claim, "Our note.", "--key", keys.reviewer).code == 0
    assert run("claim", "note", claim, "Their note.", *theirs).code == 0
    assert run("claim", "note", claim, "Their second note.", *theirs).code == 0
    own = run("claim", "add", "Theirs alone.", *theirs)
    assert own.code == 0, own.err
    return claim, own.out.strip(), other / "events.jsonl"


def refused_merge(run: Run, ledger_dir: Path, *argv: str | Path) -> str:
    """Run a merge that must be refused with exit 1, writing nothing: its error line."""
    before = files(ledger_dir)
    result = run("merge", *argv)
    assert result.code == 1, result.err
    assert files(ledger_dir) == before
    return result.one_error_line()


def test_a_fork_merges_nothing_and_says_how_to_merge_the_rest(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """The hint said 're-apply ... then merge the rest', which no merge could do: their
    forked entries stay in their file, and every merge refused it again."""
    claim, _, other = forked(run, keys, ledger_dir, tmp_path)
    line = refused_merge(run, ledger_dir, other, "--key", keys.reviewer)
    assert line.startswith(f"error: [fork] both branches changed {claim} from the same state")
    assert "'factledger merge --skip-conflicts'" in line


def test_skip_conflicts_merges_the_rest_and_names_each_entry_left_out(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    claim, own, other = forked(run, keys, ledger_dir, tmp_path)
    theirs = log_json(run, "--ledger", other.parent)
    result = run("merge", other, "--key", keys.reviewer, "--skip-conflicts", "--json")
    assert result.code == 1
    merged = json.loads(result.out)
    assert [doc["entry"]["subject"] for doc in merged] == [own]
    notes = [(e["seq"] + 1, e) for e in theirs if e["entry"]["kind"] == "note.added"]
    assert len(notes) == 2
    told = [line for line in result.err.splitlines() if "left out" in line]
    assert told[:2] == [
        f"{other}:{n}: left out {e['id'][:12]} (note.added on {claim})" for n, e in notes
    ]
    assert told[2].startswith(
        f"error: [fork] merged 1 entry and left out 2 on {claim}, which both branches changed"
    )
    ours = log_json(run)
    texts = [e["entry"]["body"]["text"] for e in ours if e["entry"]["kind"] == "note.added"]
    assert texts == ["Our note."]
    assert run("verify", "--unsafe-allow-test-keys").code == 0
    again = run("merge", other, "--key", keys.reviewer, "--skip-conflicts", "--json")
    assert (again.code, json.loads(again.out)) == (1, [])  # what merges is in; the fork stays
    assert log_json(run) == ours
    # Every new entry is left out: nothing to sign, so no key (nor passphrase) is asked for.
    keyless = run("merge", other, "--skip-conflicts", "--json")
    assert (keyless.code, json.loads(keyless.out)) == (1, []), keyless.err
    assert keyless.err == again.err  # the same report, no "needs a key"
    # And a fork refused without --skip-conflicts is said before a key is asked for.
    line = refused_merge(run, ledger_dir, other)
    assert line.startswith(f"error: [fork] both branches changed {claim} from the same state")


def test_skip_conflicts_never_leaves_out_an_altered_entry_unsaid(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    _, _, other = forked(run, keys, ledger_dir, tmp_path)
    lines = other.read_bytes().split(b"\n")
    altered = next(n for n, line in enumerate(lines, 1) if b"Their second note." in line)
    lines[altered - 1] = lines[altered - 1].replace(b"Their second note.", b"Their third note.")
    other.write_bytes(b"\n".join(lines))
    line = refused_merge(run, ledger_dir, other, "--key", keys.reviewer, "--skip-conflicts")
    assert line.startswith(f"error: {other}:{altered}: [signature] ")


def test_skip_conflicts_never_leaves_out_a_fork_on_a_key(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "keyfork"
    shutil.copytree(ledger_dir, other)
    revoke = ("key", "revoke", "Rui", "--reason", "retired", "--key", keys.owner)
    assert run(*revoke).code == 0
    assert run(*revoke, "--note", "theirs", "--ledger", other).code == 0
    assert run("claim", "add", "Theirs.", "--key", keys.editor, "--ledger", other).code == 0
    for extra in ((), ("--skip-conflicts",)):
        line = refused_merge(run, ledger_dir, other / "events.jsonl", "--key", keys.owner,
                             *extra)  # fmt: skip
        assert line.startswith("error: [fork] both branches changed SHA256:")
        assert "nothing was merged" in line
        # --skip-conflicts cannot help here, so the hint must not send the user to it
        assert "--skip-conflicts" not in line
        assert "a fork on a key is never left out" in line


def test_skip_conflicts_never_leaves_a_revocation_naming_an_entry_it_left_out(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    claim, _, other = forked(run, keys, ledger_dir, tmp_path)
    their_note = log_json(run, "--ledger", other.parent)[-2]  # the second note, forked
    assert their_note["entry"]["subject"] == claim
    revoke = ("key", "revoke", "Rui", "--reason", "compromised", "--key", keys.owner)
    assert run(*revoke, "--void-after", their_note["id"], "--ledger", other.parent).code == 0
    line = refused_merge(run, ledger_dir, other, "--key", keys.owner, "--skip-conflicts")
    assert line.startswith(f"error: {other}:")
    # the claim both branches changed, not the revoked key's own subject
    assert f"[fork] this key revocation's void_after names an entry on {claim}," in line
    assert "cannot be merged in part" in line


def test_merge_json_is_an_array_for_none_one_or_several_entries(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "one"
    shutil.copytree(ledger_dir, other)
    assert run("claim", "add", "Only one.", "--key", keys.reviewer, "--ledger", other).code == 0
    add_claim(run, keys, "Our own.")
    one = run("merge", other / "events.jsonl", "--key", keys.reviewer, "--json")
    assert one.code == 0, one.err
    merged = json.loads(one.out)
    assert isinstance(merged, list)  # an object for a single entry before
    assert [doc["entry"]["body"]["text"] for doc in merged] == ["Only one."]
    none = run("merge", other / "events.jsonl", "--json")
    assert none.code == 0, none.err
    assert json.loads(none.out) == []


@pytest.mark.parametrize(
    "name", [".gitattributes", ".gitignore", ".factledger.lock", ".cache/state.sqlite"]
)
def test_an_output_over_the_ledgers_git_settings_lock_or_caches_is_refused(
    run: Run, keys: Keys, ledger_dir: Path, name: str
) -> None:
    claim = add_claim(run, keys)
    target = ledger_dir / name
    before = target.read_bytes()
    result = run("prove", claim, "-o", target)
    assert result.code == 2
    assert "one of this ledger's own files" in result.one_error_line()
    assert target.read_bytes() == before


def test_an_output_through_a_symlink_writes_the_file_it_names(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    claim = add_claim(run, keys)
    real = tmp_path / "published" / "dossier.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    assert run("prove", claim, "-o", link).code == 0
    assert link.is_symlink()  # the link is kept…
    assert json.loads(real.read_text())["claim"] == claim  # …and its file replaced


def test_an_as_of_with_leading_zeros_is_the_position_it_spells(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    claim = add_claim(run, keys)
    assert (
        run("show", claim, "--as-of", "0" * 30 + "3").out == run("show", claim, "--as-of", "3").out
    )


# --- keys and init: found by the second sweep -------------------------------------------


def test_re_granting_the_only_admin_a_lesser_role_is_refused_like_revoking_it(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    before = files(ledger_dir)
    result = run("key", "grant", f"{keys.owner}.pub", "--name", "Me", "--role", "editor",
                 "--key", keys.owner)  # fmt: skip
    assert result.code == 2
    assert "would leave the ledger with no admin key" in result.one_error_line()
    assert files(ledger_dir) == before
    assert run("key", "grant", f"{keys.owner}.pub", "--name", "Me", "--role", "admin",
               "--key", keys.owner).code == 0  # fmt: skip


def test_an_admin_revoking_its_own_key_as_compromised_is_sent_to_another_admin(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """The key would sign the checkpoint over its own compromise, which no verifier
    accepts: the ledger then failed verify until another key appended."""
    ada = tmp_path / "keys" / "ada.key"
    save_signing_key(SigningKey.from_seed(b"\x09" * 32, "ada@example.org"), ada, None)
    assert run("key", "grant", f"{ada}.pub", "--name", "Ada", "--role", "admin",
               "--key", keys.owner).code == 0  # fmt: skip
    before = files(ledger_dir)
    result = run("key", "revoke", "Ada", "--reason", "compromised", "--key", str(ada))
    assert result.code == 2
    assert "revoke it with another admin's key" in result.one_error_line()
    assert files(ledger_dir) == before
    assert run("key", "revoke", "Ada", "--reason", "retired", "--key", str(ada)).code == 0
    assert run("verify").code == 0  # an admin retiring itself signs its last checkpoint


def test_revoking_the_admin_who_admitted_the_signer_says_so_and_how_to_keep_it(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """Revoking the owner as compromised with Ada's key also revokes Ada's (the owner
    admitted her in the voided window). It said 'this would revoke Ada's key … revoke it
    with another admin's key', though Ada's key was that other key."""
    ada = tmp_path / "keys" / "ada.key"
    save_signing_key(SigningKey.from_seed(b"\x09" * 32, "ada@example.org"), ada, None)
    assert run("key", "grant", f"{ada}.pub", "--name", "Ada", "--role", "admin",
               "--key", keys.owner).code == 0  # fmt: skip
    assert run("claim", "note", add_claim(run, keys), "checked", "--key", keys.owner).code == 0
    trusted = json.loads(run("log", "--json").out.splitlines()[-1])["id"]  # the owner's note
    owner = json.loads(run("log", "--json").out.splitlines()[0])["entry"]["author"]
    before = files(ledger_dir)
    result = run("key", "revoke", owner, "--reason", "compromised", "--key", str(ada))
    assert result.code == 2
    line = result.one_error_line()
    assert "would also revoke Ada's key, which signs this" in line
    assert "give --void-after the last entry" in line
    assert "revoke it with another admin's key" not in line
    assert files(ledger_dir) == before
    assert run("key", "revoke", owner, "--reason", "compromised", "--void-after", trusted,
               "--key", str(ada)).code == 0  # fmt: skip


DEMO_KEYS = Path(__file__).parents[2] / "fixtures" / "keys"


def test_a_published_demo_key_is_neither_granted_nor_an_owner_and_verify_reports_it(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """Anyone can sign with a demo key: granted on a real ledger, it is a door left open."""
    demo = DEMO_KEYS / "demo-kofi.key"
    before = files(ledger_dir)
    granted = run("key", "grant", f"{demo}.pub", "--name", "kofi", "--role", "admin",
                  "--key", keys.owner)  # fmt: skip
    assert granted.code == 2
    assert "published demo/test key" in granted.one_error_line()
    assert files(ledger_dir) == before
    made = run("init", tmp_path / "other", "--origin", "example.org/o", "--key", demo)
    assert made.code == 2
    assert "cannot be a ledger's owner" in made.one_error_line()
    assert not (tmp_path / "other").exists()
    # Let in on purpose (as a test may), it is still a finding for verify, but there.
    assert run("key", "grant", f"{demo}.pub", "--name", "kofi", "--role", "admin",
               "--key", keys.owner, "--unsafe-allow-test-keys").code == 0  # fmt: skip
    last = len(run("log").out.splitlines())  # the grant: the log's last line
    checked = run("verify", "--format", "json")
    assert checked.code == 1
    found = [f for f in json.loads(checked.out)["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["line"]) for f in found] == [("key-grant", last)]
    assert run("verify", "--unsafe-allow-test-keys").code == 0


def test_a_published_key_let_in_is_contained_only_by_voiding_all_it_signed(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    """The key-grant finding's hint said to revoke the key as compromised, and after
    that verify still failed, for ever. A revocation that voids everything the key
    signed (no --void-after) contains it: the grant is then a notice. Retiring it, or
    voiding only part of what it signed, leaves entries anyone could have signed; and a
    redaction's erasure is not undone by voiding it (found by review)."""
    lines = {}
    for label, role in (("ravi", "reviewer"), ("lena", "reviewer"), ("hana", "reviewer"),
                        ("kofi", "admin")):  # fmt: skip
        assert run("key", "grant", DEMO_KEYS / f"demo-{label}.key.pub", "--name", label,
                   "--role", role, "--key", keys.owner,
                   "--unsafe-allow-test-keys").code == 0  # fmt: skip
        lines[label] = len(run("log").out.splitlines())
    add_claim(run, keys, "Erased by kofi.")
    erased_id = json.loads(run("log", "--json").out.splitlines()[-1])["id"]
    assert run("redact", erased_id, "--reason", "planted erasure",
               "--key", DEMO_KEYS / "demo-kofi.key").code == 0  # fmt: skip
    assert run("key", "revoke", "kofi", "--reason", "compromised", "--key", keys.owner).code == 0
    checked = run("verify", "--format", "json")
    hint = json.loads(checked.out)["findings"][0]["hint"]
    assert "revoke it as compromised without --void-after" in hint
    assert run("claim", "add", "Signed by lena.", "--key", DEMO_KEYS / "demo-lena.key").code == 0
    mark = json.loads(run("log", "--json").out.splitlines()[-1])["id"]  # lena's claim
    assert run("key", "revoke", "ravi", "--reason", "retired", "--key", keys.owner).code == 0
    assert run("key", "revoke", "lena", "--reason", "compromised", "--void-after", mark,
               "--key", keys.owner).code == 0  # fmt: skip
    assert run("key", "revoke", "hana", "--reason", "compromised", "--key", keys.owner).code == 0
    checked = run("verify", "--format", "json")
    assert checked.code == 1
    found = [f for f in json.loads(checked.out)["findings"] if f["rule"] == "key-grant"]
    grants = {f["line"]: f["severity"] for f in found}
    assert grants == {lines["ravi"]: "error", lines["lena"]: "error", lines["hana"]: "notice",
                      lines["kofi"]: "error"}  # fmt: skip
    (kofi,) = [f for f in found if f["line"] == lines["kofi"]]
    assert "it redacted an entry, whose body no revocation brings back" in kofi["message"]


def test_revoking_by_a_name_two_keys_share_lists_them(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    twin = tmp_path / "keys" / "twin.key"
    save_signing_key(SigningKey.from_seed(b"\x08" * 32, "twin@example.org"), twin, None)
    assert run("key", "grant", f"{twin}.pub", "--name", "Edna", "--role", "editor",
               "--key", keys.owner).code == 0  # fmt: skip
    result = run("key", "revoke", "Edna", "--reason", "retired", "--key", keys.owner)
    assert result.code == 2
    line = result.one_error_line()
    assert "'Edna' could mean 2 keys" in line
    assert SigningKey.from_seed(b"\x08" * 32).public.fingerprint in line


def test_a_name_of_one_key_that_starts_another_keys_fingerprint_revokes_neither(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """'key revoke' takes a name or a fingerprint prefix, and looked names up first: a
    key granted under the name of another key's fingerprint prefix was revoked in that
    key's place, which no later entry can undo."""
    other = tmp_path / "keys" / "other.key"
    save_signing_key(SigningKey.from_seed(b"\x0a" * 32, "other@example.org"), other, None)
    editor_print = parse_public_key(Path(f"{keys.editor}.pub").read_text().strip()).fingerprint
    stem = editor_print.removeprefix("SHA256:")[:4]
    refused = run("key", "grant", f"{other}.pub", "--name", f"SHA256:{stem}", "--role",
                  "reviewer", "--key", keys.owner)  # fmt: skip
    assert refused.code == 2
    assert "reads as a key fingerprint" in refused.one_error_line()
    assert run("key", "grant", f"{other}.pub", "--name", stem, "--role", "reviewer",
               "--key", keys.owner).code == 0  # fmt: skip
    before = files(ledger_dir)
    result = run("key", "revoke", stem, "--reason", "retired", "--key", keys.owner)
    assert result.code == 2
    line = result.one_error_line()
    assert f"{stem!r} could mean 2 keys" in line
    assert editor_print in line
    assert files(ledger_dir) == before
    missing = run("key", "revoke", "nobody", "--reason", "retired", "--key", keys.owner)
    assert "no key is named 'nobody' or has a fingerprint starting with it" in (
        missing.one_error_line()
    )


def test_a_whole_fingerprint_names_its_key_even_when_another_key_is_named_so(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    """'key grant' refuses such a name, but another tool or a merged branch may have
    written one: the whole fingerprint was then refused as ambiguous, with a hint to
    give the whole fingerprint (found by review)."""
    from ledger.events import KeyGrantedBody
    from ledger.keys import load_signing_key
    from ledger.ledger import Draft, Ledger, new_salt

    editor = parse_public_key(Path(f"{keys.editor}.pub").read_text().strip()).fingerprint
    other = SigningKey.from_seed(b"\x0b" * 32, "other@example.org").public
    body = KeyGrantedBody(salt=new_salt(os.urandom), key=other.openssh_line(), name=editor,
                          role="reviewer")  # fmt: skip
    grant = Draft("key.granted", other.fingerprint, body)
    Ledger.open(ledger_dir).append([grant], load_signing_key(keys.owner, None))
    done = run("key", "revoke", editor, "--reason", "retired", "--key", keys.owner, "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["entry"]["subject"] == editor


@pytest.mark.parametrize("name", ["Rui\nkey.revoked", " Rui", "Rui\u202e"])
def test_a_key_name_on_more_than_one_line_or_with_hidden_characters_is_refused(
    run: Run, keys: Keys, ledger_dir: Path, name: str
) -> None:
    before = files(ledger_dir)
    result = run("key", "grant", f"{keys.reviewer}.pub", "--name", name, "--role", "reviewer",
                 "--key", keys.owner)  # fmt: skip
    assert result.code == 2
    assert "one line without outer spaces" in result.one_error_line()
    assert files(ledger_dir) == before


def test_a_role_refusal_reads_as_english(run: Run, keys: Keys, ledger_dir: Path) -> None:
    claim = add_claim(run, keys)
    result = run("key", "grant", f"{keys.owner}.pub", "--name", "X", "--role", "admin",
                 "--key", keys.editor)  # fmt: skip
    assert "Edna is an editor and may not sign key.granted" in result.one_error_line()
    result = run("claim", "verdict", claim, "false", "--rationale", "r", "--key", keys.reviewer)
    assert "Rui is a reviewer and may not sign verdict.issued" in result.one_error_line()


def test_init_never_replaces_a_checkpoint_and_adds_its_lines_to_an_existing_gitignore(
    run: Run, keys: Keys, tmp_path: Path
) -> None:
    target = tmp_path / "d"
    target.mkdir()
    (target / "checkpoint").write_text("my notes\n")
    (target / ".gitignore").write_text("*.log")
    result = run("init", target, "--origin", "example.org/d", "--key", keys.owner)
    assert result.code == 2
    assert "checkpoint already exists: init never replaces a file" in result.one_error_line()
    assert (target / "checkpoint").read_text() == "my notes\n"
    (target / "checkpoint").unlink()
    assert run("init", target, "--origin", "example.org/d", "--key", keys.owner).code == 0
    ignored = (target / ".gitignore").read_text().splitlines()
    assert ignored[0] == "*.log"  # the user's line kept…
    assert ".cache/" in ignored  # …and the ledger's added
    assert "events.jsonl -text merge=binary" in (target / ".gitattributes").read_text()


def test_a_genesis_in_the_future_is_refused_by_init(run: Run, keys: Keys, tmp_path: Path) -> None:
    result = run("init", tmp_path / "f", "--origin", "example.org/f", "--key", keys.owner,
                 "--at", "2099-01-01T00:00:00Z")  # fmt: skip
    assert result.code == 2
    assert "is in the future" in result.one_error_line()
    assert not (tmp_path / "f" / "events.jsonl").exists()


def test_an_entry_in_the_future_names_the_skew_in_hours(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    claim = add_claim(run, keys)
    result = run("claim", "note", claim, "n", "--at", "2099-01-01T00:00:00Z", "--key",
                 keys.reviewer)  # fmt: skip
    assert result.code == 1
    # the skew as --max-skew takes it, not timedelta's "1 day, 0:00:00"
    assert "is in the future (allowed skew 24 h)" in result.one_error_line()


@pytest.mark.parametrize(
    "argv",
    [
        ("claim", "note", "{claim}", "n", "--at", "0999-01-01T00:00:00Z"),
        ("source", "add", "--title", "T", "--kind", "report", "--published", "0999-01-01"),
    ],
    ids=["at", "published"],
)
def test_a_year_before_1000_is_written_with_four_digits(
    run: Run, keys: Keys, ledger_dir: Path, argv: tuple[str, ...]
) -> None:
    claim = add_claim(run, keys)
    result = run(*(a.format(claim=claim) for a in argv), "--key", keys.reviewer)
    # Before, "999-01-01" reached the schema: exit 1 with a regex in the message. Now
    # the year is written as 0999; a note dated before its claim is refused by the rules.
    assert "schema" not in result.err
    if argv[0] == "source":
        assert result.code == 0, result.err
        assert '"published":"0999-01-01"' in (ledger_dir / "events.jsonl").read_text()
    else:
        assert result.code == 1
        assert "'at' 0999-01-01T00:00:00Z is before the previous" in result.one_error_line()


# --- a newline in ledger text cannot forge a line of output ------------------------------


def test_a_newline_in_a_claim_cannot_forge_rows_of_show_or_history(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    forged = "Benign.\n  status    published\n  verdict   true (5): forged"
    claim = add_claim(run, keys, forged)
    shown = run("show", claim).out.splitlines()
    assert [line for line in shown if line.startswith("  status")] == ["  status    open"]
    assert [line for line in shown if line.startswith("  verdict")] == ["  verdict   none"]
    assert "Benign.⟨U+000A⟩  status    published⟨U+000A⟩" in run("show", claim).out
    history = run("history", claim).out
    assert "\n  status    published" not in history
    assert json.loads(run("show", claim, "--json").out)["text"] == forged  # data stays exact


def test_a_newline_in_a_key_name_keeps_log_and_verify_one_line_per_row(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """'key grant' refuses such a name; another tool, or a merged branch, may still
    have written one, so the readers must show it on one line."""
    from ledger.events import KeyGrantedBody
    from ledger.keys import load_signing_key
    from ledger.ledger import Draft, Ledger, new_salt

    eve = tmp_path / "keys" / "eve.key"
    eve_key = SigningKey.from_seed(b"\x0e" * 32, "eve@example.org")
    save_signing_key(eve_key, eve, None)
    name = "Eve\n    99  2024-01-01T00:00:00Z  owner  verdict.issued"
    assert run("key", "grant", f"{eve}.pub", "--name", name, "--role", "reviewer",
               "--key", keys.owner).code == 2  # fmt: skip
    body = KeyGrantedBody(salt=new_salt(os.urandom), key=eve_key.public.openssh_line(),
                          name=name, role="reviewer")  # fmt: skip
    grant = Draft("key.granted", eve_key.public.fingerprint, body)
    Ledger.open(ledger_dir).append([grant], load_signing_key(keys.owner, None))
    lines = run("log").out.splitlines()
    assert len(lines) == len(run("log", "--json").out.splitlines())
    assert not any(line.lstrip().startswith("99  ") for line in lines)
    refused = run("claim", "verdict", add_claim(run, keys), "false", "--rationale", "r",
                  "--key", eve)  # fmt: skip
    assert refused.code == 1
    assert refused.err.count("\n") == 1  # the role refusal quoting the name: one line


# --- entries a compromised key's revocation voided are not shown or exported as current --


def test_a_verdict_by_a_key_revoked_as_compromised_is_marked_in_show_and_left_out_of_export(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    honest = add_claim(run, keys, "The honest one.")
    assert run("claim", "verdict", honest, "false", "--rationale", "checked",
               "--key", keys.owner).code == 0  # fmt: skip
    claim = add_claim(run, keys)
    assert run("claim", "verdict", claim, "true", "--rationale", "planted",
               "--key", keys.editor).code == 0  # fmt: skip
    last = len(run("log").out.splitlines()) - 1  # the verdict's position
    before = run("show", claim).out.replace("now", f"as of #{last}", 1)
    assert run("key", "revoke", "Edna", "--reason", "compromised", "--key", keys.owner).code == 0
    shown = run("show", claim)
    verdict_blame = [line for line in shown.out.splitlines() if line.startswith("    verdict")]
    assert len(verdict_blame) == 1
    assert verdict_blame[0].endswith("[VOID: its key was revoked as compromised]")
    assert "do not rely on them" in shown.out
    assert run("show", claim, "--as-of", str(last)).out == before  # as it stood then: unmarked
    history = run("history", claim).out.splitlines()
    marked = [i for i, line in enumerate(history) if "[VOID: its key was revoked" in line]
    assert len(marked) == 1  # the verdict, not the reviewer's assertion
    assert "verdict.issued" in history[marked[0] - 2]
    steps = json.loads(run("history", claim, "--json").out)
    assert [(s["event"]["kind"], s["void"]) for s in steps] == [
        ("claim.asserted", False),
        ("verdict.issued", True),
    ]
    exported = run("export", "claimreview")
    assert exported.code == 0
    reviewed = [r["claimReviewed"] for r in json.loads(exported.out)["@graph"]]
    assert reviewed == ["The honest one."]
    assert (
        f"left out 1 review(s) whose verdict or text a compromised key signed (void): {claim}"
        in (exported.err)
    )


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "file:///etc/passwd", "example.org/page", "https://", "http://a b"],
)
def test_a_source_url_that_is_no_web_address_is_refused_before_the_export_publishes_it(
    run: Run, keys: Keys, ledger_dir: Path, url: str
) -> None:
    result = run("source", "add", "--title", "T", "--kind", "report", "--url", url,
                 "--key", keys.reviewer)  # fmt: skip
    assert result.code == 2
    assert "argument --url" in result.one_error_line()


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("javascript:alert({claim})", "not an http:// or https:// URL"),
        ("notaurl/{claim}", "not an http:// or https:// URL"),
        ("https://example.org/static", "has no {claim}"),
        ("https://example.org/{nope}/{claim}", "has {nope}"),
    ],
)
def test_an_export_url_template_that_publishes_no_page_per_claim_is_refused(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, template: str, says: str
) -> None:
    out = tmp_path / "reviews.jsonld"
    result = run("export", "claimreview", "--url", template, "-o", out)
    assert result.code == 2
    assert says in result.one_error_line()
    assert not out.exists()


def test_the_small_wordings_the_sweep_found(
    run: Run, keys: Keys, ledger_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = add_claim(run, keys)
    for argv in (("verdict", claim, "true", "--rationale", "r"), ("void-verdict", claim,
                 "--reason", "wrong")):  # fmt: skip
        assert run("claim", *argv, "--key", keys.owner).code == 0
    again = run("claim", "verdict", claim, "false", "--rationale", "r2", "--key", keys.owner)
    assert f"{claim} had a verdict already" in again.one_error_line()  # it has none now
    assert run("key", "revoke", "Edna", "--reason", "compromised", "--key", keys.owner).code == 0
    notice = run("verify", "--unsafe-allow-test-keys").out
    assert "its entries (all of them, no void_after was given) before the revocation" in notice
    monkeypatch.setenv("FACTLEDGER_DIR", str(ledger_dir / "events.jsonl"))
    result = run("log")
    assert result.code == 3
    line = result.one_error_line()
    assert line.endswith("ledger.toml: could not read it: Not a directory")
    assert "Errno" not in line


# --- a PKCS#8 key can be granted: key pub prints its line, grant reads a PEM public key ---


def test_a_pkcs8_key_is_granted_by_its_pem_public_key_or_the_line_key_pub_prints(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    private = Ed25519PrivateKey.from_private_bytes(b"\x0b" * 32)
    pem = tmp_path / "p8.pem"
    pem.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    pem.chmod(0o600)
    public_pem = tmp_path / "p8.pub.pem"
    public_pem.write_bytes(
        private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    expected = SigningKey.from_seed(b"\x0b" * 32).public.openssh_line()
    printed = run("key", "pub", pem)
    assert printed.code == 0, printed.err
    assert printed.out == expected + "\n"
    refused = run("key", "grant", pem, "--name", "P", "--role", "reviewer", "--key", keys.owner)
    assert refused.code == 2
    assert "is a private key: grant its public key" in refused.one_error_line()
    granted = run("key", "grant", public_pem, "--name", "P", "--role", "reviewer",
                  "--key", keys.owner)  # fmt: skip
    assert granted.code == 0, granted.err
    assert run("claim", "add", "Signed with PKCS#8.", "--key", pem).code == 0
    assert run("verify", "--unsafe-allow-test-keys").code == 0


def test_a_claim_without_a_claimant_is_exported_without_an_author_named_unknown(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    anonymous = add_claim(run, keys, "Nobody said it.")
    named = run("claim", "add", "She said it.", "--claimant", "A minister",
                "--key", keys.reviewer).out.strip()  # fmt: skip
    for claim in (anonymous, named):
        assert run("claim", "verdict", claim, "false", "--rationale", "r",
                   "--key", keys.owner).code == 0  # fmt: skip
    graph = json.loads(run("export", "claimreview").out)["@graph"]
    authors = {r["identifier"]: r["itemReviewed"].get("author") for r in graph}
    assert authors == {anonymous: None, named: {"@type": "Person", "name": "A minister"}}


def test_the_export_leaves_out_a_source_url_that_is_no_web_address_whoever_wrote_it(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    """The command line refuses such a URL; a source written another way (the API, a
    merged branch) reaches the export, which publishes only http(s) URLs."""
    from ledger.events import SourceRegisteredBody
    from ledger.keys import load_signing_key
    from ledger.ledger import Draft, Ledger, new_salt

    body = SourceRegisteredBody(
        salt=new_salt(os.urandom), title="Planted", kind="report", publisher=None,
        url="javascript:alert(1)", published=None, reliability="F", archive_url=None,
        content_sha256=None,
    )  # fmt: skip
    reviewer = load_signing_key(keys.reviewer, None)
    (done,) = Ledger.open(ledger_dir).append([Draft("source.registered", "src_" + "q" * 12,
                                                    body)], reviewer)  # fmt: skip
    claim = run("claim", "add", "It was said.", "--appears-in", done.entry.subject,
                "--key", keys.reviewer).out.strip()  # fmt: skip
    assert (
        run("claim", "verdict", claim, "false", "--rationale", "r", "--key", keys.owner).code == 0
    )
    exported = run("export", "claimreview").out
    assert "javascript:" not in exported
    (review,) = json.loads(exported)["@graph"]
    assert review["itemReviewed"]["appearance"] == [{"@type": "CreativeWork", "name": "Planted"}]


def test_init_adds_its_lines_to_a_crlf_gitignore_through_its_symlink_keeping_its_mode(
    run: Run, keys: Keys, tmp_path: Path
) -> None:
    target = tmp_path / "d"
    target.mkdir()
    shared = tmp_path / "shared.gitignore"
    shared.write_bytes(b"*.log\r\n")
    shared.chmod(0o664)
    (target / ".gitignore").symlink_to(shared)
    assert run("init", target, "--origin", "example.org/d", "--key", keys.owner).code == 0
    assert (target / ".gitignore").is_symlink()
    data = shared.read_bytes()
    assert data.startswith(b"*.log\r\n.cache/\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line still ends in CRLF
    assert shared.stat().st_mode & 0o777 == 0o664


def test_junit_stays_well_formed_xml_whatever_control_characters_the_ledger_holds(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    from xml.etree import ElementTree

    with (ledger_dir / "events.jsonl").open("ab") as log:  # a line a pull request adds
        log.write(b'{"kind":"note.\\u001b]8;;x\\u0007added\\u0000","v":1}\n')
        log.write(b'{"kind":"\x1b[2J\x07","v":1}\n')
    result = run("verify", "--format", "junit", "--unsafe-allow-test-keys")
    assert result.code == 1
    suites = ElementTree.fromstring(result.out.encode())  # raised "not well-formed" before
    failures = " ".join(f.text or "" for f in suites.iter("failure"))
    assert failures
    assert "\x1b" not in failures
    assert "⟨U+001B⟩" in failures


@pytest.mark.parametrize(
    "line",
    [
        'events = "x\\u0000y"',
        'origin = "a\\u001bb"',
        "format = true",
        "format = 1.0",
        'format = "1"',
        'evnets = "other.jsonl"',  # a typo read as nothing, and the default log checked
        'events = "checkpoint"',
        'events = "ledger.toml"',
    ],
)
def test_a_config_value_no_ledger_could_have_is_a_config_finding_not_a_traceback(
    run: Run, ledger_dir: Path, line: str
) -> None:
    config = ledger_dir / "ledger.toml"
    kept = [x for x in config.read_text().splitlines() if x.split(" = ")[0] != line.split(" = ")[0]]
    config.write_text("\n".join([*kept, line]) + "\n")
    for argv in (("verify", "--format", "json"), ("log",)):
        result = run(*argv)
        assert result.code == 1
        assert "[config]" in result.one_error_line()


def test_github_and_junit_still_answer_on_stdout_when_the_check_cannot_run(
    run: Run, ledger_dir: Path, tmp_path: Path
) -> None:
    from xml.etree import ElementTree

    config = ledger_dir / "ledger.toml"
    config.write_text(config.read_text() + "[[broken\n")
    os.chdir(tmp_path)  # as CI runs it, from the repository above the ledger
    github = run("verify", ledger_dir, "--format", "github")
    assert github.code == 1
    annotation = github.out.splitlines()[0]
    line = len(config.read_text().splitlines())
    assert annotation.startswith(f"::error file=claims/ledger.toml,line={line},title=factledger")
    junit = run("verify", ledger_dir, "--format", "junit")
    assert junit.code == 1
    (error,) = ElementTree.fromstring(junit.out.encode()).iter("error")
    assert error.get("type") == "config"
    missing = run("verify", tmp_path / "nowhere", "--format", "github")
    assert missing.code == 3
    assert missing.out.startswith("::error title=factledger verify::")


def test_a_stale_parent_hint_names_a_command_that_reads_its_subject(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    source = add_source(run, keys)
    first = log_json(run)[-1]["id"]
    assert run("source", "note", source, "A second look.", "--key", keys.reviewer).code == 0
    stale = run("source", "note", source, "Late.", "--parent", first, "--key", keys.reviewer)
    assert stale.code == 1
    line = stale.one_error_line()
    assert "stale-parent" in line
    assert "factledger show" not in line  # show reads claims only
    listed = run("log")
    assert source in listed.out  # what the hint sends the reader to
    assert f"'factledger log | grep {source}'" in line


def test_a_ledger_without_its_log_is_named_once_with_what_to_do(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    """Each reader said the path twice ("events.jsonl: could not read …/events.jsonl")."""
    add_claim(run, keys)
    log_path = ledger_dir / "events.jsonl"
    log_path.rename(ledger_dir / "events.jsonl.moved")
    for argv in (("verify",), ("log",), ("show", "clm_00000000000000000000000000"),
                 ("query", "SELECT 1"), ("history", "clm_00000000000000000000000000"),
                 ("export", "claimreview"), ("prove", "1")):  # fmt: skip
        result = run(*argv)
        assert result.code == 3, argv
        line = result.one_error_line()
        assert line == (
            f"error: {log_path}: no such file; is this a ledger? see 'factledger init'"
        ), argv


def test_readers_of_the_projections_say_the_log_ends_in_a_torn_write(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    """log and verify refuse a torn tail left by a crash; show, history, query and export
    read the whole entries, and said nothing of the partial line they left out."""
    claim = add_claim(run, keys)
    log_path = ledger_dir / "events.jsonl"
    with log_path.open("ab") as handle:
        handle.write(b'{"v":1,"kind":"note.ad')
    for argv in (("show", claim), ("history", claim), ("query", "SELECT count(*) FROM events"),
                 ("export", "claimreview")):  # fmt: skip
        result = run(*argv)
        assert result.code == 0, (argv, result.err)
        assert result.err.splitlines() == [
            f"warning: {log_path}: the log ends in a partial line of 22 bytes (a torn write), "
            "left out of what is shown; run 'factledger repair' to move the partial tail aside"
        ], argv
    assert run("repair").code == 0
    assert "warning" not in run("show", claim).err
    # A whole entry that lost only its newline is no torn write, and repair keeps it.
    whole = log_path.read_bytes()
    log_path.write_bytes(whole[:-1])
    last = len(whole.splitlines()[-1])
    assert run("query", "SELECT count(*) FROM events").err.splitlines() == [
        f"warning: {log_path}: the log's last line, a whole entry of {last} bytes, lacks its "
        "newline, left out of what is shown; run 'factledger repair' to add the newline back"
    ]
    assert run("repair").code == 0
    assert log_path.read_bytes() == whole


def test_a_document_given_as_an_id_is_named_in_a_line_not_screens_of_it(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    """A pasted document (or a shell expansion gone wrong) given as an id was echoed in
    full: 5,000 characters of one error line. It is cut to its start, and says so."""
    add_claim(run, keys)
    pasted = "Paragraph-" * 500
    for argv in (("show", pasted), ("log", "--bogus", pasted)):
        line = run(*argv).one_error_line()
        assert len(line) < 400, argv
        assert "Paragraph-Paragraph-" in line, argv
        assert f"…⟨{len(pasted) - 100} more characters⟩" in line, argv
    # An id of full length is never cut: it is what the user checks against the log.
    missing = "clm_" + "7" * 26
    assert f"'{missing}'" in run("show", missing).one_error_line()


def test_a_usage_error_shows_terminal_escapes_in_what_was_typed_as_data(run: Run) -> None:
    """The argument parser's one line quoted an unknown argument as it was, so an escape
    in it (a copied coloured prompt, say) drove the terminal; every other error line
    showed it as ⟨U+001B⟩."""
    result = run("log", "--bogus", "\x1b[2J\x1b]0;owned\x07")
    assert result.code == 2
    line = result.one_error_line()
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "⟨U+001B⟩[2J" in line


def test_a_topic_given_empty_or_twice_is_refused_and_nothing_written(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    """Both were recorded (topics ``["", "a", "a"]``), though an empty text is refused."""
    before = files(ledger_dir)
    for topics, says in ((["", "a"], "must not be empty"), (["a", "b", "a"], "'a' is given twice")):
        argv = [part for t in topics for part in ("--topic", t)]
        result = run("claim", "add", "Text.", *argv, "--key", keys.reviewer)
        assert result.code == 2, topics
        assert says in result.one_error_line(), topics
    assert files(ledger_dir) == before
    assert run("claim", "add", "Text.", "--topic", "a", "--topic", "b",
               "--key", keys.reviewer).code == 0  # fmt: skip


REFUSED_SQL = {
    "ATTACH 'x.db' AS x": "ATTACH",
    "install httpfs": "INSTALL and LOAD",
    "  /* a comment */ DELETE FROM claims": "DELETE",
    "WITH t AS (SELECT 1) DELETE FROM claims": "DELETE",
    "COPY claims TO 'out.csv'": "COPY",
}


@pytest.mark.parametrize(("sql", "name"), REFUSED_SQL.items(), ids=REFUSED_SQL.values())
def test_query_names_the_statement_it_refuses_as_typed(
    run: Run, keys: Keys, ledger_dir: Path, sql: str, name: str
) -> None:
    """It said "a ATTACH statement", and called INSTALL a LOAD statement (DuckDB's type)."""
    add_claim(run, keys)
    result = run("query", sql)
    assert result.code == 2
    assert f"query is read-only: {name} statements are refused" in result.one_error_line()


def test_since_another_ledgers_checkpoint_says_whose_it_is(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """It said the file "is not a checkpoint", of a checkpoint of another ledger."""
    other = tmp_path / "other"
    assert run("init", other, "--origin", "example.org/other", "--key", keys.owner).code == 0
    checked = run("verify", "--since", other / "checkpoint", "--format", "json")
    assert checked.code == 1
    (finding,) = json.loads(checked.out)["findings"]
    assert finding["rule"] == "since"
    assert finding["message"].startswith(
        f"checkpoint {other / 'checkpoint'} is another ledger's checkpoint: checkpoint is for "
        "origin 'example.org/other'"
    )
