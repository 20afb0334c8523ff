"""A Textual app that holds one widget, for Pilot tests of that widget alone (outside the whole app)."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.widget import Widget


class WidgetApp(App):
    """Composes ``make()``: the widget is built inside the running app, as the app's own compose would."""

    def __init__(self, make: Callable[[], Widget]) -> None:
        super().__init__()
        self.make = make

    def compose(self) -> ComposeResult:
        yield self.make()
