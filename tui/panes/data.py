"""Data pane: dataset files, their rows (Line API), one row as a chat, the validation report."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from finetui.core.printable import printable, printable_data

from ..format import human_bytes
from ..widgets.chat_render import conversation_text
from ..widgets.histogram import token_histogram
from ..widgets.jsonl_view import JsonlView
from ..widgets.mask_preview import MaskPreview
from .base import Pane

AUTO_VALIDATE_BYTES = 64 << 20


def find_datasets(root: Path | None) -> list[Path]:
    if root is None or not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.jsonl") if p.is_file())


def validation_text(report: Any) -> Text:
    out = Text()
    verdict = "VALID" if report.ok else "PROBLEMS FOUND"
    out.append(f" {verdict} ", style="bold reverse")
    out.append(f"  {report.valid_rows:,} of {report.rows:,} rows usable\n\n")
    for issue in report.issues[:50]:
        out.append(printable(f"  {issue}\n"))
    if report.issues_truncated:
        out.append(f"  … and {report.issues_truncated} more\n")
    out.append("\n")
    out.append_text(token_histogram(report.token_stats))
    return out


class DataPane(Pane):
    ACTIONS = [("open_row", "open the row as a chat", "Enter"), ("last_row", "jump to the last row", "End"),
               ("validate", "validate the file", "v"), ("refresh", "rescan the data folder", "")]
    BINDINGS = [Binding("v", "validate", "Validate")]
    TABS = "#data-tabs"
    HELP_WIDGETS = (JsonlView,)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.path: Path | None = None
        self.files: list[Path] = []

    def compose(self) -> ComposeResult:
        yield Static("", classes="unavailable")
        with Horizontal():
            with Vertical(classes="side narrow"):
                yield Label("Datasets", classes="heading")
                yield OptionList(id="data-files")
            with TabbedContent(id="data-tabs"):
                with TabPane("Rows", id="rows-tab"):
                    yield JsonlView(id="rows")
                    yield Static("", id="rows-status", classes="status-line")
                with TabPane("Chat", id="chat-tab"):
                    with VerticalScroll():
                        yield Static("press Enter on a row", id="conversation")
                with TabPane("Loss mask", id="mask-tab"):
                    with VerticalScroll():
                        yield MaskPreview("press Enter on a row, with a model selected", id="mask-preview")
                with TabPane("Validation", id="validation-tab"):
                    with VerticalScroll():
                        yield Static("press v to validate", id="validation")

    # -- files ---------------------------------------------------------------------------
    def reload(self) -> None:
        root = getattr(getattr(self.backend, "paths", None), "data", None)
        self.call("files", find_datasets, root)

    def loaded_files(self, files: list[Path] | None, error: str | None) -> None:
        self.files = files or []
        options = self.query_one("#data-files", OptionList)
        options.clear_options()
        options.add_options(Option(f"{p.name}\n{human_bytes(p.stat().st_size)}", id=str(p)) for p in self.files)
        if self.files and self.path is None:
            self.open_file(self.files[0])
        elif not self.files:
            self.query_one("#rows-status", Static).update("no .jsonl files in the workspace data folder (`finetui data fetch`)")

    @on(OptionList.OptionSelected, "#data-files")
    def _file_chosen(self, event: OptionList.OptionSelected) -> None:
        self.open_file(Path(event.option.id))
        self.query_one(JsonlView).focus()

    def open_file(self, path: str | Path, index: Any = None) -> None:
        self.path = Path(path)
        self.query_one("#rows-status", Static).update(f"{self.path.name}: indexing…")
        self.query_one("#validation", Static).update("press v to validate")
        self.query_one(JsonlView).load(self.path, index)
        if self.path.stat().st_size <= AUTO_VALIDATE_BYTES and self.backend is not None:
            self._validate()

    def focus_main(self) -> None:
        self.query_one(JsonlView).focus()

    # -- rows ---------------------------------------------------------------------------------
    @on(JsonlView.Progress)
    def _progress(self, event: JsonlView.Progress) -> None:
        view = self.query_one(JsonlView)
        state = "" if event.done else " (indexing…)"
        name = self.path.name if self.path else ""
        self.query_one("#rows-status", Static).update(f"{name}: {view.row_count:,} rows{state} · Enter opens a row · End last row")

    @on(JsonlView.Failed)
    def _failed(self, event: JsonlView.Failed) -> None:
        self.query_one("#rows-status", Static).update(event.error if event.error.startswith("not available") else f"not available: {event.error}")

    @on(JsonlView.RowSelected)
    def _row_selected(self, event: JsonlView.RowSelected) -> None:
        view = event.view
        try:
            row = view.index.row(event.row)
        except Exception as exc:
            self.query_one("#conversation", Static).update(Text(printable(f"row {event.row + 1}: {exc}")))
        else:
            self.query_one("#conversation", Static).update(conversation_text(printable_data(row)))
            self._preview(row, event.row)
        self.show_tab("chat-tab")

    def _preview(self, row: Any, index: int) -> None:
        """The row as training will see it, with the selected model and the launch form's spec."""
        from finetui.core.data.preview import preview_for

        model, messages = self.app.selected_model, row.get("messages") if isinstance(row, dict) else None
        if model and isinstance(messages, list) and self.backend is not None:
            self.query_one(MaskPreview).show_message(f"rendering row {index} with {model}'s chat template…")
            self.call("mask", preview_for, self.backend, model, messages, self.app.current_spec(), index)

    def loaded_mask(self, preview: Any, error: str | None) -> None:
        view = self.query_one(MaskPreview)
        view.show_message(f"not available: {error}") if error else view.show_preview(preview)

    def action_open_row(self) -> None:
        self.query_one(JsonlView).action_select()

    def action_last_row(self) -> None:
        self.show_tab("rows-tab")
        self.query_one(JsonlView).action_jump(-1)

    def action_refresh(self) -> None:
        self.reload()

    # -- validation ------------------------------------------------------------------------
    def action_validate(self) -> None:
        self.show_tab("validation-tab")  # an action shows its result
        self._validate()

    def _validate(self) -> None:
        if self.path is None:
            return
        self.query_one("#validation", Static).update(f"validating {self.path.name}…")
        spec = self.app.current_spec() or {}
        self.call("validation", _validate, self.path, spec.get("max_seq_length"))

    def loaded_validation(self, report: Any, error: str | None) -> None:
        out = self.query_one("#validation", Static)
        out.update(f"not available: {error}" if error else validation_text(report))


def _validate(path: Path, max_seq_length: Any = None) -> Any:
    from finetui.core.data.validate import validate_file

    kwargs = {}
    if max_seq_length and "max_seq_length" in inspect.signature(validate_file).parameters:
        kwargs["max_seq_length"] = int(max_seq_length)
    return validate_file(path, **kwargs)
