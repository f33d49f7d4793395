"""One read in flight per kind; while it runs, only the newest request waits (latest wins).

A key held down asks for dozens of positions a second. A thread worker cannot abort
a DuckDB query half way, so cancelling stale workers (``exclusive=True``) still lets
their queries pile up on the CPU. :class:`Flight` instead keeps at most one worker of
a group running and one request waiting — each new request replaces the waiting one —
so the reads never queue and the screen always ends on the latest position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Flight(Generic[T]):
    def __init__(self, launch: Callable[[T], object]) -> None:
        self._launch = launch
        self._busy = False
        self._waiting: tuple[T] | None = None

    def request(self, args: T) -> None:
        if self._busy:
            self._waiting = (args,)
        else:
            self._busy = True
            self._launch(args)

    def landed(self) -> None:
        """The running read finished (or failed): start the waiting one, if any."""
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            self._busy = False
        else:
            self._launch(waiting[0])

    @property
    def busy(self) -> bool:
        return self._busy


__all__ = ["Flight"]
