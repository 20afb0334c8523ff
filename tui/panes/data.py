"""Data pane: a folder's datasets (any path, typed with completion), their rows (Line API), one row as a
chat, the validation report."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from finetui.core import units
from finetui.core.printable import printable, printable_data

from ..widgets.chat_render import conversation_text
from ..widgets.histogram import token_histogram
from ..widgets.jsonl_view import JsonlView
from ..widgets.mask_preview import MaskPreview
from ..widgets.path_input import PathInput
from .base import Pane, PaneKey, pane_keys

if TYPE_CHECKING:
    from finetui.core.data.browse import FolderListing
    from finetui.core.data.jsonl import JsonlIndex
    from finetui.core.data.preview import RowPreview
    from finetui.core.models import CatalogModel, ValidationReport

AUTO_VALIDATE_BYTES = 64 << 20
VALIDATE_HINT = "v validates the file; t picks a tokenizer to count tokens per row"


def find_datasets(root: Path | None) -> list[Path]:
    if root is None or not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.jsonl") if p.is_file())


def validation_text(report: ValidationReport) -> Text:
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
    ACTIONS, BINDINGS = pane_keys(
        PaneKey("open_row", "open the row as a chat", "Enter"),
        PaneKey("last_row", "jump to the last row", "End"),
        PaneKey("validate", "validate the file", "v", "Validate"),
        PaneKey("open_path", "open a path: a folder or a .jsonl file", "o", "Open"),
        PaneKey(
            "refresh",
            "rescan the folder and the open file",
            "R",
            "Rescan",
            tooltip="list the folder again; reindex the open file if it changed",
        ),
        # not in the footer (full at 80 columns): the Validation tab names the key
        PaneKey(
            "pick_tokenizer",
            "pick a tokenizer for the validation's token lengths",
            "t",
            "Tokenizer for token lengths",
            show=False,
        ),
    )
    TABS = "#data-tabs"
    HELP_WIDGETS = (JsonlView,)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.path: Path | None = None
        self.files: list[Path] = []
        self.folder: Path | None = None  # the folder listed beside the rows
        self.tokenizer_model: str | None = None  # the catalog model whose tokenizer measures rows in validation
        self._opened: tuple[float, int] | None = None  # the open file's mtime and size, for a rescan

    def compose(self) -> ComposeResult:
        yield Static("", classes="unavailable")
        with Horizontal():
            with Vertical(classes="side narrow"):
                yield Label("Datasets", classes="heading")
                yield PathInput(id="data-path")
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
                        yield Static(VALIDATE_HINT, id="validation")

    # -- files ---------------------------------------------------------------------------
    def reload(self) -> None:
        root = self.backend.data_folder() if self.backend else None
        self.call(_first_listing, self.folder, root, then=self.loaded_files)

    def loaded_files(self, found: tuple[FolderListing, Path | None] | None, error: str | None) -> None:
        if error or found is None:
            self.query_one("#rows-status", Static).update(f"not available: {error}")
            return
        listing, first = found
        self._show_listing(listing)
        if first is not None and self.path is None:
            self.open_file(first)
        elif self.path is None:
            self.query_one("#rows-status", Static).update(
                "no .jsonl files in the workspace data folder: `finetui data fetch` or `finetui demo`, or o to open a path"
            )
        elif self._opened is not None and _stamp(self.path) not in (None, self._opened):
            self.open_file(self.path)  # rescanned: the open file changed since it was indexed

    def _show_listing(self, listing: FolderListing) -> None:
        self.folder = listing.folder
        self.files = [path for path, _ in listing.files]
        options = self.query_one("#data-files", OptionList)
        options.clear_options()
        if listing.parent is not None:
            options.add_option(Option("▴ ..", id=f"dir:{listing.parent}"))
        options.add_options(Option(f"▸ {p.name}/", id=f"dir:{p}") for p in listing.folders)
        options.add_options(Option(f"{p.name}\n{units.size(size)}", id=f"file:{p}") for p, size in listing.files)
        if not listing.files and not listing.folders:
            options.add_option(Option("no .jsonl files here", disabled=True))
        if listing.truncated:
            options.add_option(Option("… more: type a path above", disabled=True))
        if options.option_count:  # on the first entry past "..": Enter goes down, not back up
            options.highlighted = min(int(listing.parent is not None), options.option_count - 1)
        self.query_one(".heading", Label).update(Text(self._folder_title(listing.folder), no_wrap=True, overflow="ellipsis"))

    def _folder_title(self, folder: Path) -> str:
        """The workspace's data folder as "Datasets" (and its subfolders under it); other folders by path."""
        root = self.backend.data_folder() if self.backend else None
        if root is not None:
            try:
                inside = folder.relative_to(Path(root).absolute())
            except ValueError:
                pass
            else:
                return "Datasets" if str(inside) == "." else f"Datasets/{inside}"
        return _short(folder)

    @on(OptionList.OptionSelected, "#data-files")
    def _file_chosen(self, event: OptionList.OptionSelected) -> None:
        kind, _, path = (event.option.id or "").partition(":")
        if kind == "dir":
            self.call(_listing_of, path, then=self.loaded_target)
            return
        self.open_file(Path(path))
        self.query_one(JsonlView).focus()

    def action_open_path(self) -> None:
        self.query_one("#data-path", Input).focus()

    @on(Input.Submitted, "#data-path")
    def _path_typed(self, event: Input.Submitted) -> None:
        event.stop()
        from finetui.core.data.browse import open_target

        self.call(open_target, event.value, then=self.loaded_target)

    def loaded_target(self, target: FolderListing | Path | None, error: str | None) -> None:
        if error or target is None:
            status = self.query_one("#rows-status", Static)
            status.update(Text(error))
            status.add_class("error")
            self.app.notify(error, severity="error", title="not opened")
        elif isinstance(target, Path):
            self.query_one("#data-path", Input).value = ""
            self.open_file(target)
            self.show_tab("rows-tab")
            self.query_one(JsonlView).focus()
        else:
            self._show_listing(target)
            self.query_one("#data-files", OptionList).focus()

    def open_file(self, path: str | Path, index: JsonlIndex | None = None) -> None:
        self.path = Path(path)
        self.query_one("#rows-status", Static).remove_class("error")
        self._opened = _stamp(self.path)
        self.query_one("#rows-status", Static).update(f"{self.path.name}: indexing…")
        self.query_one("#validation", Static).update(VALIDATE_HINT)
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
        self.query_one("#rows-status", Static).update(
            f"{name}: {view.row_count:,} rows{state} · Enter opens a row · End last row"
        )

    @on(JsonlView.Failed)
    def _failed(self, event: JsonlView.Failed) -> None:
        self.query_one("#rows-status", Static).update(f"not available: {event.error}")

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
            self.call(preview_for, self.backend, model, messages, self.app.current_spec(), index, then=self.loaded_mask)

    def loaded_mask(self, preview: RowPreview | None, error: str | None) -> None:
        view = self.query_one(MaskPreview)
        view.show_message(f"not available: {error}") if error or preview is None else view.show_preview(preview)

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
        if self.tokenizer_model and self.backend is not None:
            from finetui.core.data.preview import validate_for

            self.call(validate_for, self.backend, self.tokenizer_model, self.path, spec, then=self.loaded_validation)
        else:
            self.call(_validate, self.path, spec.get("max_seq_length"), then=self.loaded_validation)

    def loaded_validation(self, report: ValidationReport | None, error: str | None) -> None:
        out = self.query_one("#validation", Static)
        if error or report is None:
            out.update(f"not available: {error}")
            return
        text = validation_text(report)
        which = f"tokens counted with {self.tokenizer_model}'s tokenizer" if self.tokenizer_model else "no tokenizer"
        text.append(f"\n{which} · t picks {'another' if self.tokenizer_model else 'one'}", style="dim")
        out.update(text)

    # -- tokenizer for token lengths ----------------------------------------------------------
    def action_pick_tokenizer(self) -> None:
        if self.backend is not None:
            self.backend_call(self.backend.list_models, then=self.loaded_tokenizers)

    def loaded_tokenizers(self, models: list[CatalogModel] | None, error: str | None) -> None:
        from ..screens import PickScreen

        if error:
            self.app.notify(error, severity="error", title="cannot list models")
            return
        choices = [(m.ref, f"{m.ref}  ({m.source})") for m in models or [] if m.path]
        if not choices:
            self.app.notify("no model with local files: `finetui demo` or `finetui model add PATH`", severity="warning")
            return
        choices.append(("-", "none: rows only, no token lengths"))

        def picked(ref: str | None) -> None:
            if ref is None:
                return
            self.tokenizer_model = None if ref == "-" else ref
            self.action_validate()

        self.app.push_screen(PickScreen("Count tokens with the tokenizer of:", choices, self.tokenizer_model), picked)


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size


def _short(folder: Path) -> str:
    home = str(Path.home())
    text = str(folder)
    return "~" + text[len(home) :] if text == home or text.startswith(home + "/") else text


def _listing_of(folder: str) -> FolderListing:
    from finetui.core.data.browse import list_folder

    return list_folder(folder)


def _first_listing(folder: Path | None, root: Path | None) -> tuple[FolderListing, Path | None]:
    """The folder to list (the one shown, else the first dataset's, else the data folder) and that dataset."""
    from finetui.core.data.browse import list_folder

    first = None
    if folder is None:
        found = find_datasets(root)
        first = found[0] if found else None
        folder = first.parent if first is not None else root
    return list_folder(folder if folder is not None else "."), first


def _validate(path: Path, max_seq_length: Any = None) -> ValidationReport:
    from finetui.core.data.validate import validate_file

    kwargs = {}
    if max_seq_length and "max_seq_length" in inspect.signature(validate_file).parameters:
        kwargs["max_seq_length"] = int(max_seq_length)
    return validate_file(path, **kwargs)
