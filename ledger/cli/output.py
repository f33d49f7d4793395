"""Where commands put what they make: the new ids of write verbs, and -o FILE outputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ledger.cli.context import Context
from ledger.codec import encode_entry
from ledger.errors import StorageError, UsageError, io_error
from ledger.ledger import Appended, Ledger


def print_appended(
    ctx: Context, done: Sequence[Appended], *, show_subject: bool = False, many: bool = False
) -> None:
    """Print each new event id (or, with ``show_subject``, the new claim/source id).

    With ``--json`` one entry is an object; a verb whose count varies (``many``: merge)
    always prints an array, so that a script reads one shape for none, one or several.

    The entries are in the ledger by now. If stdout cannot take the ids (a full disk,
    say), the error says so and names them, so that nobody appends them twice.
    """
    try:
        _print(ctx, done, show_subject=show_subject, many=many)
        ctx.out.flush()
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not an error, as for every command
    except OSError as exc:
        if len(done) == 1:
            what = f"event {done[0].id} at seq {done[0].seq} ({done[0].entry.subject})"
        else:
            span = f", seq {done[0].seq} to {done[-1].seq}" if done else ""
            what = f"{len(done)} entries{span}"
        raise StorageError(
            f"appended {what}, but could not print it to stdout: {exc.strerror or exc}",
            hint="the ledger has it, so do not run the command again; 'factledger log' lists it",
        ) from None


def write_output(ctx: Context, ledger: Ledger, target: str | Path | None, text: str) -> bool:
    """Write a command's output to ``target``, or to stdout for None or ``-``.

    A file is replaced atomically (temp file, fsync, rename), so a failure leaves the
    old one whole; a FIFO or device is written into, never replaced by a regular file;
    the ledger's own files and directories are refused. True if a file was written.
    """
    if target is None or str(target) == "-":
        ctx.out.write(text)
        return False
    from ledger.log import write_atomic

    path = Path(target)
    resolved = path.resolve()  # written through a symlink, as to the file it names
    root = ledger.root.resolve()
    own = {
        ledger.events_path: "log",
        ledger.checkpoint_path: "checkpoint",
        ledger.root / "ledger.toml": "config",
    }
    for file, name in own.items():
        if resolved == file.resolve():
            raise UsageError(f"{path} is this ledger's {name}", hint="write to another file")
    inside = resolved.relative_to(root).parts if resolved.is_relative_to(root) else ()
    if inside and inside[0].startswith("."):
        raise UsageError(
            f"{path} is one of this ledger's own files (its git settings, lock or caches)",
            hint="write to another file",
        )
    if path.is_dir():
        raise UsageError(f"{path} is a directory", hint=f"name a file, e.g. {path / 'out.json'}")
    data = text.encode()
    if path.exists() and not path.is_file():
        try:
            with path.open("wb") as special:  # a FIFO, /dev/stdout, a terminal…
                special.write(data)
        except OSError as exc:
            raise io_error("write it", path, exc) from None
        return True
    write_atomic(resolved, data)
    return True


def _print(ctx: Context, done: Sequence[Appended], *, show_subject: bool, many: bool) -> None:
    if ctx.json:
        import json

        docs = [
            {"seq": a.seq, "id": a.id, "entry": json.loads(encode_entry(a.entry))} for a in done
        ]
        ctx.emit_json(docs[0] if len(docs) == 1 and not many else docs)
        return
    for a in done:
        ctx.emit(a.entry.subject if show_subject else a.id)
