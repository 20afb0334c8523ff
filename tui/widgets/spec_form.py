"""The launch form: every FineTuneSpec field with its default; the model's and the user's changes marked.

Values are checked with core's ``coerce`` as they are typed, so a bad value is
named on its own row before anything is submitted.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from finetui.core.errors import SpecError
from finetui.core.spec import FineTuneSpec, Override, ResolvedSpec, coerce

if TYPE_CHECKING:
    from finetui.core.spec import ResolvedSpec

REQUEST_FIELDS = (
    ("model", "model"),
    ("train_file", "train file (JSONL)"),
    ("test_file", "test file (optional)"),
    ("compute", "compute target (optional)"),
    ("display_name", "display name (optional)"),
)
LIST_KEYS = ("lora_target_modules", "lora_modules_to_save")
MODEL_MARK, USER_MARK = "★", "✎"  # marks that read without colour


def show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def length_note(max_seq_length: int, context: int | None, used: int) -> str:
    """The sequence length beside its field, short enough for 80 columns (29 characters); the tooltip says why."""
    if max_seq_length != -1:
        return f"job uses {used} tokens"
    if context and used >= context:
        return f"job uses {used} tokens: context"
    return f"job uses {used} tokens of {context}" if context else f"job uses {used} tokens, capped"


class TailInput(Input):
    """A request field that shows the end of a long value (a path's file name tells two files apart).

    The end is shown again when the field changes size while nobody edits it: a value set before the
    form's tab is laid out would otherwise keep the scroll it got at the old width.
    """

    def show_end(self) -> None:
        self.cursor_position = 0  # a change of cursor is what scrolls an Input
        self.action_end()

    def on_resize(self) -> None:
        if not self.has_focus:
            self.show_end()


class SpecForm(VerticalScroll):
    BINDINGS = [Binding("ctrl+s", "submit", "Launch"), Binding("escape", "app.leave_input", "Leave")]

    class Submitted(Message):
        def __init__(self, request: dict[str, Any], spec: dict[str, Any]) -> None:
            super().__init__()
            self.request, self.spec = request, spec

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.base: dict[str, Any] = FineTuneSpec().to_dict()
        self.overrides: dict[str, Override] = {}
        self.context_length: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"{MODEL_MARK} the model's default · {USER_MARK} changed by you · Ctrl+S launches", classes="muted")
        for key, label in REQUEST_FIELDS:
            with Horizontal(classes="form-row request"):
                yield Label(f"  {label}", classes="form-label")
                yield TailInput(id=f"req-{key}", compact=True)
        yield Static("", id="launch-cost", classes="form-note")
        for f in dataclasses.fields(FineTuneSpec):
            with Horizontal(classes="form-row"):
                yield Label(f"  {f.name}", classes="form-label", id=f"label-{f.name}")
                yield Input(show(self.base[f.name]), id=f"spec-{f.name}", compact=True)
                yield Label("", classes="form-note", id=f"note-{f.name}")
        yield Static("", id="form-error", classes="error")
        yield Button("Launch (Ctrl+S)", id="launch", variant="primary")

    def set_request(self, **values: Any) -> None:
        for key, value in values.items():
            if value is not None:
                field = self.query_one(f"#req-{key}", TailInput)
                field.value = str(value)
                self.call_after_refresh(field.show_end)

    def set_resolved(self, resolved: ResolvedSpec) -> None:
        """Fill the spec rows from ``backend.resolve_spec(model)`` and mark what the model changed."""
        self.base = resolved.spec.to_dict()
        self.overrides = {o.key: o for o in resolved.overrides}
        self.context_length = resolved.context_length
        defaults = FineTuneSpec().to_dict()
        for key, value in self.base.items():
            self.query_one(f"#spec-{key}", Input).value = show(value)
            o = self.overrides.get(key)
            note = f"model: {show(o.model_value)} (default {show(o.default)})" if o else f"default {show(defaults[key])}"
            self.query_one(f"#note-{key}", Label).update(note)
            self._mark(key)
        self._show_length(self.base["max_seq_length"])

    def _mark(self, key: str) -> None:
        """The label says whose value this is: the user's (changed here), the model's, or the default."""
        changed = self.query_one(f"#spec-{key}", Input).value.strip() != show(self.base[key])
        mark = USER_MARK if changed else MODEL_MARK if key in self.overrides else " "
        label = self.query_one(f"#label-{key}", Label)
        label.update(f"{mark} {key}")
        label.set_class(key in self.overrides and not changed, "overridden")
        label.set_class(changed, "changed")

    def _show_length(self, max_seq_length: int) -> None:
        """The sequence length the job will use, decided as the trainer decides it."""
        from finetui.core.seq_length import job_sequence_length

        length = job_sequence_length(max_seq_length, self.context_length)
        note = self.query_one("#note-max_seq_length", Label)
        note.update(length_note(max_seq_length, self.context_length, length.max_length))
        note.tooltip = f"job uses {length.max_length} tokens ({length.why})"  # the whole reasoning, on hover

    def set_cost(self, lines: list[str]) -> None:
        """The target's price and the job's estimated time and cost (core/estimate.py's words)."""
        self.query_one("#launch-cost", Static).update("\n".join(lines))

    def spec_changes(self) -> dict[str, Any]:
        """Fields the user changed from the resolved values (what goes in JobRequest.spec)."""
        changes: dict[str, Any] = {}
        for key, value in self.base.items():
            text = self.query_one(f"#spec-{key}", Input).value.strip()
            if text != show(value):
                changes[key] = None if not text and key in LIST_KEYS else coerce(key, text)
        return changes

    def request_values(self) -> dict[str, Any]:
        return {key: self.query_one(f"#req-{key}", Input).value.strip() or None for key, _ in REQUEST_FIELDS}

    @on(Input.Changed)
    def _check_field(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("spec-")
        if key not in self.base:
            return
        self._mark(key)
        try:
            if event.value.strip() or key not in LIST_KEYS:
                value = coerce(key, event.value.strip())
                if key == "max_seq_length":
                    self._show_length(value)
        except SpecError as exc:
            event.input.add_class("invalid-value")
            self.query_one("#form-error", Static).update(str(exc))
        else:
            event.input.remove_class("invalid-value")
            self.query_one("#form-error", Static).update("")

    def action_submit(self) -> None:
        self.submit()

    @on(Button.Pressed, "#launch")
    def submit(self) -> None:
        error = self.query_one("#form-error", Static)
        try:
            changes = self.spec_changes()
        except SpecError as exc:
            error.update(str(exc))
            return
        request = self.request_values()
        if not request["model"] or not request["train_file"]:
            error.update("model and train file are required")
            return
        error.update("")
        self.post_message(self.Submitted(request, changes))
