"""Modal screens: help, confirm, type-the-name-to-confirm, prompt, pick from a list, quit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option


class HelpScreen(ModalScreen[None]):
    AUTO_FOCUS = ".help"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static(self.text, id="help-text")
            yield Label("Esc closes · Ctrl+P lists every action", classes="muted")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    AUTO_FOCUS = "#no"
    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


@dataclass(frozen=True)
class Extra:
    """An optional field under a prompt's value: ``parse`` turns its text into a value or raises a FinetuiError."""

    key: str
    label: str
    placeholder: str
    parse: Callable[[str], Any]


class PromptScreen(ModalScreen[str | None]):
    """Ask for one value; with ``must_equal`` the answer must be typed exactly (delete by name).

    ``extras`` are optional fields below it (Enter in any field submits them all):
    each is parsed before the prompt closes, its error shown in the dialog, and
    the parsed values are left in ``parsed`` by key.
    """

    AUTO_FOCUS = "#prompt-input"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, *, value: str = "", placeholder: str = "", must_equal: str | None = None, extras: Sequence[Extra] = ()
    ) -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder, self.must_equal = title, value, placeholder, must_equal
        self.extras = tuple(extras)
        self.parsed: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, id="prompt-title")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            for extra in self.extras:
                yield Label(extra.label, classes="muted")
                yield Input("", placeholder=extra.placeholder, id=f"prompt-{extra.key}")
            yield Label("", id="prompt-error", classes="error")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        from finetui.core.errors import FinetuiError

        error = self.query_one("#prompt-error", Label)
        value = self.query_one("#prompt-input", Input).value.strip()
        if self.must_equal is not None and value != self.must_equal:
            error.update(f"type {self.must_equal!r} exactly to confirm")
            return
        if not value:
            error.update("a value is required")
            return
        parsed = {}
        for extra in self.extras:
            field = self.query_one(f"#prompt-{extra.key}", Input)
            try:
                parsed[extra.key] = extra.parse(field.value)
            except FinetuiError as exc:
                error.update(str(exc).splitlines()[0])
                field.focus()
                return
        self.parsed = parsed
        self.dismiss(value)


class PickScreen(ModalScreen[str | None]):
    """Pick one of ``choices`` ((value, label) pairs) with the arrows and Enter; Esc cancels."""

    AUTO_FOCUS = "#pick-list"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]], selected: str | None = None) -> None:
        super().__init__()
        self.title_text, self.choices, self.selected = title, choices, selected

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, id="pick-title")
            yield OptionList(*(Option(label, id=value) for value, label in self.choices), id="pick-list")
            yield Label("↑↓ choose · Enter picks · Esc cancels", classes="muted")

    def on_mount(self) -> None:
        values = [value for value, _ in self.choices]
        if self.selected in values:
            self.query_one(OptionList).highlighted = values.index(self.selected)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#pick-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class TextScreen(ModalScreen[None]):
    """Text to take away (a curl command): always on screen, selectable, whatever the clipboard did."""

    AUTO_FOCUS = "#text-body"
    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, title: str, text: str, *, wide: bool = False) -> None:
        super().__init__()
        self.title_text, self.text, self.wide = title, text, wide

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog text wide" if self.wide else "dialog text"):
            yield Static(self.title_text, id="text-title")
            yield TextArea(self.text, read_only=True, soft_wrap=True, id="text-body")
            yield Label("select with Shift+arrows or the mouse · Esc closes", classes="muted")

    def action_dismiss(self) -> None:
        self.dismiss(None)
