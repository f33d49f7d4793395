"""The command palette (ctrl+p): jump to a claim, a source or a reviewer, or run an action.

Claims are searched in the projection (``queries.list_claims(text=...)``) on a thread
worker the palette awaits; sources and reviewers come from the catalog the main
screen indexed. Every ledger string is shown through :func:`tui.widgets.safe.safe_text`
— never through ``Matcher.highlight``, which would parse it as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.worker import WorkerCancelled, WorkerFailed

from ledger.projections import ClaimRow
from tui.model import Filters
from tui.widgets.safe import safe_text, shorten, visible

if TYPE_CHECKING:
    from tui.screens.main import MainScreen

CLAIM_HITS: Final = 8
OTHER_HITS: Final = 6


def _display(kind: str, label: object, detail: object = "") -> Text:
    out = Text(f"{kind:<9}", style="bold")
    out.append_text(safe_text(shorten(label, 70)))
    if detail:
        out.append("  ")
        out.append_text(safe_text(shorten(detail, 40), "dim"))
    return out


def reviewers(keys: Iterable[Any]) -> list[tuple[str, str]]:
    """One (name, detail) per reviewer name: the filter is by name, so a person who
    changed keys is one row, not two rows that look the same and do the same."""
    roles: dict[str, list[str]] = {}
    for key in keys:
        roles.setdefault(key.name, []).append(key.role)
    return [
        (name, ", ".join(dict.fromkeys(held)) + (f" · {len(held)} keys" if len(held) > 1 else ""))
        for name, held in sorted(roles.items())
    ]


class LedgerCommands(Provider):
    """Claims, sources, reviewers and the screen's actions."""

    @property
    def main(self) -> MainScreen:
        from tui.screens.main import MainScreen

        screen = self.screen
        assert isinstance(screen, MainScreen)
        return screen

    def _actions(self) -> list[tuple[str, str, Callable[[], Any]]]:
        main = self.main
        return [
            ("Verify the ledger", "run full verification (v)", main.action_verify),
            ("Inspect the event at the cursor", "JSON, signature, proof (i)", main.action_inspect),
            ("Jump to a sequence number or date", "(t)", main.action_jump),
            ("Go to the first event", "(g)", partial(main.action_edge, 0)),
            ("Go to the last event", "(G)", partial(main.action_edge, 1)),
            ("Filter claims", "status, verdict, author, source (f)", main.action_filter),
            ("Reload", "read entries appended since opening (r)", main.action_reload),
            ("Clear search and filters", "", main.clear_filters),
            ("Show the key bindings", "(?)", partial(self.app.run_action, "help")),
        ]

    async def discover(self) -> Hits:
        for name, help_text, command in self._actions():
            yield DiscoveryHit(Text(name), command, text=name, help=help_text or None)
        catalog = self.main.catalog
        if catalog is not None:
            for name, detail in reviewers(catalog.keys.values()):
                yield DiscoveryHit(
                    _display("reviewer", name, detail),
                    partial(self.main.narrow, author=name),
                    text=f"reviewer {visible(name)}",
                    help="show the claims this reviewer signed events on",
                )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, command in self._actions():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, Text(name), command, text=name, help=help_text or None)
        for row in await self._claims(query):
            label = f"{row.claim_id} {visible(row.text)}"
            yield Hit(
                max(matcher.match(label), 0.5),
                _display("claim", row.text or "[redacted]", row.claim_id),
                partial(self.main.select_claim, row.claim_id),
                text=f"claim {label}",
                help=shorten(f"{row.status or ''} · {row.verdict or 'no verdict'}", 60),
            )
        catalog = self.main.catalog
        if catalog is None:
            return
        sources = [
            (matcher.match(f"{visible(s.title)} {s.source_id}"), s)
            for s in catalog.sources.values()
        ]
        for score, source in sorted(sources, key=lambda p: -p[0])[:OTHER_HITS]:
            if score > 0:
                yield Hit(
                    score,
                    _display("source", source.title, f"{source.source_id} · {source.reliability}"),
                    partial(self.main.narrow, source=source.source_id),
                    text=f"source {visible(source.title)}",
                    help="show the claims that cite it",
                )
        for name, detail in reviewers(catalog.keys.values()):
            score = matcher.match(visible(name))
            if score > 0:
                yield Hit(
                    score,
                    _display("reviewer", name, detail),
                    partial(self.main.narrow, author=name),
                    text=f"reviewer {visible(name)}",
                    help="show the claims this reviewer signed events on",
                )

    async def _claims(self, query: str) -> list[ClaimRow]:
        reader, info = self.main.reader, self.main.info
        if reader is None or info is None or not query.strip():
            return []
        filters = Filters(text=query.strip())

        def find() -> list[ClaimRow]:
            return reader.page(as_of=info.head, filters=filters, offset=0, limit=CLAIM_HITS).rows

        worker = self.app.run_worker(find, thread=True, exclusive=True, group="palette")
        try:
            return await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            return []


__all__ = ["LedgerCommands"]
