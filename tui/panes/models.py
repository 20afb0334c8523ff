"""Models pane: the catalog with a filter, a model's details, and what to do next."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from finetui.core import units

from .base import CheckRequested, DeployRequested, LaunchRequested, Pane, PaneKey, pane_keys

if TYPE_CHECKING:
    from finetui.core.models import CatalogModel


NO_MODELS = (
    "no models yet: run `finetui demo` for the offline demo model, or `finetui model add PATH` for a"
    " model folder (Hugging Face layout); they show here at once"
)


def model_details(m: CatalogModel) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows = [
        ("Model", m.ref),
        ("Source", m.source),
        ("Architecture", m.architecture or "-"),
        ("Parameters", units.count(m.parameter_count)),
        ("Context", f"{m.context_length:,} tokens" if m.context_length else "-"),
        ("Size", units.size(m.size_bytes)),
        ("Dtype", m.dtype or "-"),
    ]
    for key, value in rows:
        grid.add_row(key, str(value))
    if m.description:
        grid.add_row("About", m.description)
    if m.tags:
        grid.add_row("Tags", Text(", ".join(f"{k}={v}" for k, v in sorted(m.tags.items()) if k != "model_specific_defaults")))
    if m.model_specific_defaults:
        defaults = ", ".join(f"{k}={v}" for k, v in m.model_specific_defaults.items())
        grid.add_row("Model defaults", Text(defaults, style="italic"))
    grid.add_row("", "")
    grid.add_row("Next", "c check compute · t fine-tune · d deploy")
    return grid


class ModelsPane(Pane):
    ACTIONS, BINDINGS = pane_keys(
        PaneKey("filter", "filter the catalog", "/", "Filter", bind="slash"),
        PaneKey("check", "check compute for the model", "c", "Check compute"),
        PaneKey("finetune", "fine-tune the model", "t", "Fine-tune"),
        PaneKey("deploy", "deploy a model as an endpoint", "d", "Deploy"),
        PaneKey("refresh", "reload the catalog"),
    )

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.models: list[CatalogModel] = []

    def compose(self) -> ComposeResult:
        yield Static("", classes="unavailable")
        with Horizontal():
            with Vertical(classes="side"):
                yield Input(placeholder="filter models (/)", id="model-filter", compact=True)
                table = DataTable(id="model-table", cursor_type="row", zebra_stripes=True)
                table.add_columns("Model", "Params", "Source")
                yield table
            with VerticalScroll(classes="details"):
                yield Static("loading the catalog…", id="model-details")

    def reload(self) -> None:
        query = self.query_one("#model-filter", Input).value.strip() or None
        if self.backend is not None:
            self.backend_call(self.backend.list_models, query, then=self.loaded_models)

    def loaded_models(self, models: list[CatalogModel] | None, error: str | None) -> None:
        details = self.query_one("#model-details", Static)
        if error:
            details.update(f"not available: {error}")
            return
        self.models = self.app.catalog = models or []
        table = self.query_one("#model-table", DataTable)
        table.clear()
        for m in self.models:
            table.add_row(m.ref, units.count(m.parameter_count), m.source, key=m.ref)
        if not self.models:
            typed = self.query_one("#model-filter", Input).value.strip()
            details.update(f"no models match {typed!r}: Esc clears the filter" if typed else NO_MODELS)
        elif self.app.selected_model is None:
            self.app.selected_model = self.models[0].ref

    def focus_main(self) -> None:
        self.query_one("#model-table", DataTable).focus()

    @on(Input.Changed, "#model-filter")
    def _filter_changed(self) -> None:
        self.reload()

    @on(Input.Submitted, "#model-filter")
    def _filter_done(self) -> None:
        self.focus_main()

    @on(DataTable.RowHighlighted, "#model-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        ref = event.row_key.value if event.row_key else None
        model = next((m for m in self.models if m.ref == ref), None)
        if model is not None:
            self.query_one("#model-details", Static).update(model_details(model))
            self.app.selected_model = model.ref
            # A catalog listing may carry only names (Azure lists model containers);
            # the full record, with tags and model defaults, comes from get_model.
            if self.backend is not None:
                self.backend_call(self.backend.get_model, model.ref, then=self.loaded_model)

    def loaded_model(self, model: CatalogModel | None, error: str | None) -> None:
        if error or model is None or model.ref != self.app.selected_model:
            return
        self.models = self.app.catalog = [model if m.ref == model.ref else m for m in self.models]
        self.query_one("#model-details", Static).update(model_details(model))

    @on(DataTable.RowSelected, "#model-table")
    def _selected(self) -> None:
        self.action_check()

    def action_back(self) -> None:
        """Esc clears the filter (and leaves it), showing the whole catalog again."""
        box = self.query_one("#model-filter", Input)
        if box.value:
            box.value = ""
        self.focus_main()

    def action_deploy(self) -> None:
        """Deploy from where the model is: the list offers registered versions first, then base models."""
        self.post_message(DeployRequested())

    def action_filter(self) -> None:
        self.query_one("#model-filter", Input).focus()

    def action_refresh(self) -> None:
        self.reload()

    def action_check(self) -> None:
        if self.app.selected_model:
            self.post_message(CheckRequested(self.app.selected_model))

    def action_finetune(self) -> None:
        if self.app.selected_model:
            self.post_message(LaunchRequested(self.app.selected_model))
