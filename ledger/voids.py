"""Compromised keys: which entries a ``compromised`` revocation voids (DESIGN §8).

A revocation as ``compromised`` voids the key's entries after ``void_after`` and before
the revocation, and undoes its key management in that window: keys it admitted there are
compromised too, keys it revoked there get their authority back, and keys it granted
again there (a new role or name) get their grant before that back. Pure functions of the
rule state (:class:`ledger.rules.LedgerState`), which :mod:`ledger.rules` calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.rules import KeyState, LedgerState


@dataclass(frozen=True)
class VoidRange:
    """Entries by ``author`` after ``after_seq`` and before ``revoked_seq`` are void,
    from position ``known_seq`` on: that of the ``compromised`` revocation that voided
    them. It is ``revoked_seq`` but for a key the thief granted that was revoked
    already (its range ends at its own, earlier, revocation)."""

    author: str
    after_seq: int
    revoked_seq: int
    known_seq: int = -1
    """-1: ``revoked_seq``."""

    @property
    def since(self) -> int:
        """The position from which the range is void."""
        return self.revoked_seq if self.known_seq < 0 else self.known_seq


@dataclass(frozen=True)
class Undone:
    """A revocation undone because its signer (``cause``) was revoked as compromised at
    ``cause_seq``: the revocation as it was, to restore should that be undone too."""

    revoked: str
    revoked_seq: int
    void_after: str | None
    revoked_by: str | None
    cause: str
    cause_seq: int


def is_void(void: Iterable[VoidRange], seq: int, author: str, as_of: int | None = None) -> bool:
    """Whether the entry at ``seq`` by ``author`` is void (as of position ``as_of``: a
    revocation after it had not voided anything yet)."""
    return any(
        r.author == author
        and r.after_seq < seq < r.revoked_seq
        and (as_of is None or r.since <= as_of)
        for r in void
    )


def void_key(
    state: LedgerState, fingerprint: str, after: int, revoked_seq: int, known: int = -1
) -> None:
    """Void a compromised key's entries after ``after``, and undo its key management there.

    Keys it granted in that window were granted by the attacker: they are revoked as
    compromised too, all their entries void (and so, in turn, what they granted),
    also when they were revoked already, as retired or from a later ``void_after``.
    Keys it revoked in that window have their authority back, and what that
    revocation voided is no longer void, until this revocation is undone in turn
    (:func:`undo_revocation` restores them).
    """
    known = revoked_seq if known < 0 else known
    state.void.append(VoidRange(fingerprint, after, revoked_seq, known))
    for other in list(state.keys.values()):
        how, seq = other.revoked, other.revoked_seq
        if how is None or seq is None or other.revoked_by != fingerprint:
            continue
        if after < seq < revoked_seq:
            undone = Undone(how, seq, other.void_after, fingerprint, fingerprint, revoked_seq)
            undo_revocation(state, other)
            other.undone.append(undone)
    for other in list(state.keys.values()):
        if other.granted_by != fingerprint or not after < other.granted_seq:
            continue
        if other.revoked is None:
            other.revoked, other.revoked_seq, other.revoked_by = (
                "compromised",
                revoked_seq,
                fingerprint,
            )
            void_key(state, other.fingerprint, -1, revoked_seq, known)
        elif not any(r.author == other.fingerprint and r.after_seq < 0 for r in state.void):
            # Revoked already, but its grant was the attacker's: every entry it signed
            # before its own revocation is void, not just those after its void_after.
            ended = other.revoked_seq if other.revoked_seq is not None else revoked_seq
            state.void[:] = [r for r in state.void if r.author != other.fingerprint]
            other.revoked, other.void_after = "compromised", None
            void_key(state, other.fingerprint, -1, ended, known)


def settle_grants(state: LedgerState) -> None:
    """Give every key granted again the name and role of its last grant not void.

    A compromised admin's grant of a key that was already granted (a new role, say) is
    undone with the rest of its key management: the grant before it stands again.
    """
    for key in state.keys.values():
        if key.grants:
            live = [g for g in key.grants if not is_void(state.void, g.seq, g.by or "")]
            last = live[-1] if live else key.grants[0]
            key.name, key.role = last.name, last.role


def undo_revocation(state: LedgerState, key: KeyState) -> None:
    """Give ``key`` its authority back, and undo what its revocation voided; revocations
    that this one had undone (their signer was ``key``) stand again."""
    seq = key.revoked_seq
    compromised = key.revoked == "compromised"
    key.revoked = key.revoked_seq = key.void_after = key.revoked_by = None
    if not compromised or seq is None:
        return
    state.void[:] = [
        r for r in state.void if not (r.author == key.fingerprint and r.revoked_seq == seq)
    ]
    for other in list(state.keys.values()):
        # compromised in turn, as keys it granted
        if other.revoked_by == key.fingerprint and other.revoked_seq == seq and other is not key:
            undo_revocation(state, other)
    for other in list(state.keys.values()):
        for undone in [u for u in other.undone if (u.cause, u.cause_seq) == (key.fingerprint, seq)]:
            other.undone.remove(undone)
            if other.revoked is None:
                _restore(state, other, undone)


def _restore(state: LedgerState, key: KeyState, undone: Undone) -> None:
    """Revoke ``key`` again as ``undone`` says it was."""
    key.revoked, key.revoked_seq = undone.revoked, undone.revoked_seq
    key.void_after, key.revoked_by = undone.void_after, undone.revoked_by
    if undone.revoked == "compromised":
        after = state.events.get(undone.void_after) if undone.void_after else None
        void_key(state, key.fingerprint, after.seq if after else -1, undone.revoked_seq)
