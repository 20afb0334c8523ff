"""The command palette: one entry for every action of every pane (Ctrl+P)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .pane_table import PANES


def palette_entries(app) -> list[tuple[str, str, object]]:
    """(title, help, callback) for every pane switch and pane action."""
    out: list[tuple[str, str, object]] = []
    for i, (pid, label, cls) in enumerate(PANES):
        out.append((f"{label}: show pane", f"key {i + 1}", partial(app.action_show, pid)))
        for action, title, key in cls.ACTIONS:
            out.append((f"{label}: {title}", f"key {key}" if key else "", partial(app.action_pane, pid, action)))
    out.append(("Evaluate: arena of the latest evaluation", "key e", app.action_arena))
    out.append(("Help: keys and panes", "key ?", app.action_help))
    return out


class ActionsProvider(Provider):
    async def discover(self) -> Hits:
        for title, help_text, callback in palette_entries(self.app):
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in palette_entries(self.app):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
