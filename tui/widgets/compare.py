"""Compare two endpoints on the same prompts, side by side (the app's `finetui chat --compare A B`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Label

from .chat import ChatConsole

if TYPE_CHECKING:
    from finetui.core.chat import ChatClient


class CompareScreen(Screen[None]):
    """Each prompt typed below goes to both endpoints; each side keeps its own history."""

    AUTO_FOCUS = "#compare-input"
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, sides: list[tuple[str, str, Callable[[], ChatClient]]]) -> None:
        """``sides``: (endpoint name, url, client factory) for the left and the right."""
        super().__init__()
        self.sides = sides

    def compose(self) -> ComposeResult:
        names = " vs ".join(name for name, _, _ in self.sides)
        yield Label(f"compare {names} · Enter sends to both · Esc closes", classes="heading")
        with Horizontal(id="compare-sides"):
            for i, (name, _, _) in enumerate(self.sides):
                with Vertical(classes="compare-side"):
                    yield Label(name, classes="heading")
                    yield ChatConsole(id=f"compare-{i}", classes="compare")
        yield Input(placeholder="prompt for both (Enter sends)", id="compare-input")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        for i, (_, url, factory) in enumerate(self.sides):
            self.query_one(f"#compare-{i}", ChatConsole).set_endpoint(url, factory)

    @property
    def consoles(self) -> list[ChatConsole]:
        return list(self.query(ChatConsole))

    @on(Input.Submitted, "#compare-input")
    def _send(self, event: Input.Submitted) -> None:
        event.stop()
        sent = [console.send(event.value) for console in self.consoles]
        if any(sent):
            event.input.value = ""

    def action_close(self) -> None:
        self.dismiss(None)
