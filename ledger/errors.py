"""One error hierarchy for the whole core.

Every error is a :class:`LedgerError`: a one-line ``message`` saying what failed,
an optional ``hint`` saying what to do, and an ``exit_code`` the command line
uses (DESIGN §13): 1 verification failed, 2 usage error, 3 could not check.
Leaves are named for what happened, so callers can catch precisely.
"""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_IO = 3

#: The hint for a ledger whose log is missing.
NOT_A_LEDGER = "is this a ledger? see 'factledger init'"


class LedgerError(Exception):
    """Base of every error factledger raises on purpose."""

    exit_code = EXIT_FINDINGS

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | None = None,
        line: int | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        self.rule = rule

    def one_line(self) -> str:
        """``path:line: [rule] message; hint`` with the parts that are known."""
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        rule = f"[{self.rule}] " if self.rule else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{where}{rule}{self.message}{hint}"

    def __str__(self) -> str:
        return self.one_line()


class UsageError(LedgerError):
    """The caller asked for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


class StorageError(LedgerError):
    """A file could not be read, written, synced or locked."""

    exit_code = EXIT_IO


def io_error(
    action: str, path: object, exc: OSError, *, missing: str | None = None
) -> StorageError:
    """``path: could not <action>: <reason>``, the path said once, in front.

    ``action`` names the file as "it" (``"read it"``, ``"open it for appending"``).
    A file to read that does not exist says so plainly, with ``missing`` as the hint; a
    refused permission hints at the permissions.
    """
    if isinstance(exc, FileNotFoundError) and action.startswith("read"):
        return StorageError("no such file", hint=missing, path=str(path))
    reason = exc.strerror or str(exc)
    hint = None
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "check the permissions of the file and its directory (is it read-only?)"
    return StorageError(f"could not {action}: {reason}", hint=hint, path=str(path))


class LockBusy(StorageError):
    """Another writer holds the ledger lock and did not release it in time."""


class NotALedger(StorageError):
    """No ``ledger.toml`` where one was expected."""


class DecodeError(LedgerError):
    """A line, body, note or receipt is not in the one accepted encoding."""


class BadKey(LedgerError):
    """A key file or public key could not be used."""

    exit_code = EXIT_USAGE


class PassphraseNeeded(BadKey):
    """A key file is encrypted and no passphrase was given."""


class WeakKey(BadKey):
    """A public key is small-order, non-canonical or not a point (DESIGN §2)."""


class InvalidSignature(LedgerError):
    """An Ed25519 signature does not verify for the stated key and message."""


class RuleViolation(LedgerError):
    """An entry breaks a ledger rule (authority, role, parent, references...)."""


class UnknownKey(RuleViolation):
    """An entry is signed by a key the ledger never granted."""


class StaleParent(RuleViolation):
    """An entry's ``parent`` is not the head of its subject stream."""


class TornWrite(LedgerError):
    """The log ends in a partial line without its newline."""

    whole_entry = False
    """The partial line is a whole valid entry that lacks only its newline."""
    tail = b""
    """That entry's line, when it is one."""


class InconsistentTree(LedgerError):
    """A Merkle proof or checkpoint does not match the log (RFC 9162 §2.1)."""


class InvalidProof(InconsistentTree):
    """An inclusion or consistency proof does not verify."""


class NoteError(LedgerError):
    """A signed note or checkpoint is malformed or not signed by a trusted key."""
