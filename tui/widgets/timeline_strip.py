"""The timeline strip: events per day over the ledger's life, and where the cursor is.

The density comes once from ``queries.timeline`` (a :class:`DayCount` per day); the
cursor's place is computed from it without a query, so the marker moves on the key
press and the label fills in when the worker's event arrives.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Final

from rich.text import Text
from textual import events
from textual.widget import Widget

from ledger.projections import DayCount, EventView
from tui.messages import JumpTo
from tui.model import LedgerInfo
from tui.widgets.safe import safe_text
from tui.widgets.styles import DIM, signer

BARS: Final = " ▁▂▃▄▅▆▇█"


def _ordinal(day: str) -> int:
    return date.fromisoformat(day).toordinal()


def columns(timeline: tuple[DayCount, ...], width: int) -> list[list[DayCount]]:
    """The days falling in each of ``width`` columns, by calendar time (pure).

    When there are fewer days in the ledger's span than columns, a day spans several
    adjacent columns; otherwise a column sums several days.
    """
    out: list[list[DayCount]] = [[] for _ in range(max(width, 1))]
    if not timeline or width <= 0:
        return out
    first = _ordinal(timeline[0].day)
    span = _ordinal(timeline[-1].day) - first + 1
    by_day = {_ordinal(d.day) - first: d for d in timeline}
    for col in range(width):
        start = col * span // width
        end = max((col + 1) * span // width, start + 1)
        out[col] = [by_day[i] for i in range(start, end) if i in by_day]
    return out


def column_of(buckets: list[list[DayCount]], position: int) -> range | None:
    """The columns whose days hold ``position`` (one, or several for a wide day)."""
    found = [
        i
        for i, days in enumerate(buckets)
        if any(d.first_seq <= position <= d.last_seq for d in days)
    ]
    return range(found[0], found[-1] + 1) if found else None


class TimelineStrip(Widget):
    """Three lines: a density sparkline, the cursor's marker with the date range, a label."""

    DEFAULT_CSS = """
    TimelineStrip {
        height: 3;
        padding: 0 1;
        background: $boost;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"timeline-strip--cursor"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info: LedgerInfo | None = None
        self.position = 0
        self.event: EventView | None = None
        self.roles: dict[str, str] = {}

    def show_ledger(self, info: LedgerInfo) -> None:
        self.info = info
        self.refresh()

    def move(self, position: int) -> None:
        self.position = position
        if self.event is not None and self.event.seq != position:
            self.event = None
        self.refresh()

    def show_event(self, event: EventView, roles: dict[str, str]) -> None:
        self.event, self.roles = event, roles
        self.refresh()

    def _buckets(self) -> list[list[DayCount]]:
        assert self.info is not None
        return columns(self.info.timeline, self.content_size.width)

    def render(self) -> Text:
        if self.info is None or not self.info.timeline:
            return Text("opening the ledger…", style=DIM)
        width = self.content_size.width
        buckets = self._buckets()
        counts = [sum(d.events for d in days) for days in buckets]
        peak = max(counts) or 1
        cols = column_of(buckets, self.position)
        here = cols.start if cols is not None else -1
        chars: list[str] = []
        styles: list[str] = []
        for i, n in enumerate(counts):
            level = 0 if n == 0 else max(1, round(n * (len(BARS) - 1) / peak))
            if cols is not None and i in cols:
                style = "bold reverse"
            else:
                style = "cyan" if i < here else "blue"
            chars.append(BARS[level] if level else "·" if i < here else " ")
            styles.append(style)
        spark = Text()
        start = 0
        for i in range(1, len(chars) + 1):  # one span per run of equal style, not per cell
            if i == len(chars) or styles[i] != styles[start]:
                spark.append("".join(chars[start:i]), style=styles[start])
                start = i
        first, last = self.info.timeline[0].day, self.info.timeline[-1].day
        marks = [" "] * width
        if cols is not None:
            marks[here] = "▲"
        axis = Text("".join(marks), style="bold")
        if here < 0 or here > len(first) + 1:
            axis = Text(first, style=DIM) + axis[len(first) :]
        if here < 0 or here < width - len(last) - 1:
            axis = axis[: width - len(last)] + Text(last, style=DIM)
        return Text("\n").join([spark, axis, self._label()])

    def _label(self) -> Text:
        assert self.info is not None
        label = Text()
        label.append(f"#{self.position}", style="bold")
        label.append(f" of {self.info.head}", style=DIM)
        event = self.event
        if event is None or event.seq != self.position:
            day = self.info.day_of(self.position)
            if day is not None:
                label.append(f"  {day.day}")
            return label
        label.append(f"  {event.at}  ")
        label.append(event.kind, style="bold")
        label.append("  ")
        label.append_text(safe_text(event.subject))
        label.append("  by ", style=DIM)
        label.append_text(signer(event, self.roles.get(event.author)))
        label.truncate(self.content_size.width, overflow="ellipsis")
        return label

    def on_click(self, event: events.Click) -> None:
        if self.info is None or event.y != 0:
            return
        days = self._buckets()[max(0, min(event.x - 1, self.content_size.width - 1))]
        if days:
            self.post_message(JumpTo(days[-1].last_seq))


__all__ = ["TimelineStrip", "column_of", "columns"]
