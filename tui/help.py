"""The help screen's text, generated from the bindings themselves so it cannot drift from the keys."""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen

INTRO = "finetui: fine-tune a chat model, deploy it, chat with it."
OUTRO = "Jobs and endpoints run as detached processes: quitting the app stops neither."


def class_bindings(cls: type, ours: bool = True) -> list[Binding]:
    """A class's bindings with those it inherits (a subclass's key wins), one Binding per key.

    ``ours``: only finetui's own classes' bindings (not Textual's scrolling keys on every widget).
    """
    by_key: dict[str, Binding] = {}
    for klass in reversed(cls.__mro__):
        if ours and not klass.__module__.startswith("finetui"):
            continue
        for binding in Binding.make_bindings(klass.__dict__.get("BINDINGS", [])):
            by_key[binding.key] = binding
    return list(by_key.values())


def entries(app: Any, bindings: Iterable[Binding], titles: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(keys, what they do): keys bound to the same action share one entry (``↑/k``)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for binding in bindings:
        what = (titles or {}).get(binding.action) or binding.tooltip or binding.description or binding.action
        grouped.setdefault((binding.action, what), []).append(app.get_key_display(binding))
    return [("/".join(dict.fromkeys(keys)), what) for (_, what), keys in grouped.items()]


def section(out: Text, title: str, items: list[tuple[str, str]]) -> None:
    out.append(f"\n{title}\n", style="bold")
    for keys, what in items:
        out.append(f"  {keys:<14}", style="bold")
        out.append(f"{what}\n")


def help_text(app: Any, panes: Iterable[tuple[str, str, type]]) -> Text:
    out = Text(INTRO + "\n")
    anywhere = [b for b in class_bindings(type(app)) if not b.action.startswith("show(")]
    switch = " ".join(f"{i + 1} {label}" for i, (_, label, _) in enumerate(panes))
    section(
        out,
        "Anywhere",
        [
            ("1-5", f"switch pane: {switch}"),
            *entries(app, anywhere),
            (app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "")), "every action (command palette)"),
            *entries(app, [b for b in class_bindings(Screen, ours=False) if b.action.startswith("app.focus")]),
        ],
    )
    for _, label, cls in panes:
        titles = {action: title for action, title, _ in cls.ACTIONS}
        bindings = [b for b in class_bindings(cls) if not (b.action.startswith("next_tab") and cls.TABS is None)]
        for widget in cls.HELP_WIDGETS:
            bindings += class_bindings(widget)
        section(out, label, entries(app, bindings, titles))
    out.append(f"\n{OUTRO}")
    return out
