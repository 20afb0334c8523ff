"""Compute pane: the targets, and whether the selected model and spec fit on one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from finetui.core import units
from finetui.core.compute_fit import gpu_line
from finetui.core.models import Verdict

from .base import Pane, PaneKey, pane_keys

if TYPE_CHECKING:
    from finetui.core.models import ComputeTarget, FitReport

VERDICT_TEXT = {Verdict.OK: "FITS", Verdict.TIGHT: "TIGHT", Verdict.DOES_NOT_FIT: "DOES NOT FIT"}
VERDICT_COLOR = {Verdict.OK: "green", Verdict.TIGHT: "yellow", Verdict.DOES_NOT_FIT: "red"}


NO_TARGETS = (
    "no compute targets: on Azure create a cluster with"
    " `finetui --backend azure azure compute-create NAME --size VM_SIZE`, then r"
)
NO_MODEL = "no model to check: pick one in pane 1 (none there? `finetui demo` or `finetui model add PATH`), then c checks it here"


def fit_text(report: FitReport) -> Text:
    verdict = report.verdict
    est = report.estimate
    out = Text()
    out.append(f" {VERDICT_TEXT[verdict]} ", style=f"bold reverse {VERDICT_COLOR[verdict]}")
    out.append(f"  {report.model} on {report.target}\n\n")
    avail = units.size(report.available_bytes) if report.available_bytes else "unknown"
    out.append(f"needs about {units.size(est.total_bytes)} of {avail}\n")
    gpus = gpu_line(report)  # the tutorial's gpus_per_node, the GPU model and its memory
    if gpus:
        out.append(f"  {gpus}\n")
    parts = (
        ("weights", est.weights_bytes),
        ("gradients", est.gradients_bytes),
        ("optimizer", est.optimizer_bytes),
        ("activations", est.activations_bytes),
        ("overhead", est.overhead_bytes),
    )
    out.append("  " + " · ".join(f"{k} {units.size(v)}" for k, v in parts) + "\n")
    out.append(f"  trainable parameters: {est.trainable_parameters:,}\n")
    if report.reasons:
        out.append("\nwhy:\n", style="bold")
        for reason in report.reasons:
            out.append(f"  • {reason}\n")
    if report.suggestion:
        out.append("\nsuggestion: ", style="bold")
        out.append(report.suggestion)
    return out


class ComputePane(Pane):
    ACTIONS, BINDINGS = pane_keys(PaneKey("recheck", "re-check the fit", "r", "Re-check"))

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.target: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="unavailable")
        table = DataTable(id="compute-table", cursor_type="row")
        table.add_columns("Target", "Kind", "CPU", "Memory", "Accelerators")
        yield table
        with VerticalScroll(id="fit-box"):
            yield Static("pick a model in pane 1, then press c", id="fit-report")

    def reload(self) -> None:
        if self.backend is not None:
            self.backend_call(self.backend.list_compute, then=self.loaded_targets)
        self.action_recheck()

    def loaded_targets(self, targets: list[ComputeTarget] | None, error: str | None) -> None:
        table = self.query_one("#compute-table", DataTable)
        table.clear()
        if error:
            self.query_one("#fit-report", Static).update(f"not available: {error}")
            return
        if not targets:
            self.query_one("#fit-report", Static).update(NO_TARGETS)
        for t in targets or []:
            gpus = ", ".join(f"{g.name} {units.size(g.memory_bytes)}" for g in t.gpus) or (t.vm_size or "-")
            table.add_row(t.name, t.kind, str(t.cpu_cores or "-"), units.size(t.memory_bytes), gpus, key=t.name)
        if targets and not self.app.selected_model:
            self.query_one("#fit-report", Static).update(NO_MODEL)

    def focus_main(self) -> None:
        self.query_one("#compute-table", DataTable).focus()

    def on_mount(self) -> None:  # Pane.on_mount runs too: Textual calls each class's handler
        self.watch(self.app, "selected_model", self._model_selected, init=False)

    def _model_selected(self) -> None:
        if self.backend is not None:
            self.action_recheck()

    @on(DataTable.RowSelected, "#compute-table")
    def _target_chosen(self, event: DataTable.RowSelected) -> None:
        self.target = event.row_key.value if event.row_key else None
        self.action_recheck()

    def action_recheck(self) -> None:
        model = self.app.selected_model
        if not model and self.backend is not None and self.query_one("#compute-table", DataTable).row_count:
            self.query_one("#fit-report", Static).update(NO_MODEL)
        if not model or self.backend is None:
            return
        self.query_one("#fit-report", Static).update(f"checking {model}…")
        spec = self.app.current_spec()
        self.call(self._check, model, spec, self.target, then=self.loaded_fit)

    def _check(self, model: str, user_spec: dict[str, Any] | None, target: str | None) -> FitReport | None:
        backend = self.backend
        if backend is None:
            return None
        spec = backend.resolve_spec(model, user_spec or None).spec
        return backend.check_compute(model, spec, target)

    def loaded_fit(self, report: FitReport | None, error: str | None) -> None:
        box = self.query_one("#fit-box")
        for cls in ("verdict-ok", "verdict-tight", "verdict-does-not-fit"):
            box.remove_class(cls)
        out = self.query_one("#fit-report", Static)
        if error or report is None:
            out.update(f"not available: {error}")
            return
        box.add_class(f"verdict-{report.verdict.value}")
        out.update(fit_text(report))
