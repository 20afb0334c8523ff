"""Jobs pane: jobs and their status, the launch form, the live log, loss plots."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane
from textual.timer import Timer
from textual.worker import get_current_worker

from finetui.core.job_summary import JobSummary, registered_name
from finetui.core.log_reading import follow_chunks
from finetui.core.models import Job, JobStatus
from finetui.core.units import duration

from ..format import first_line
from ..widgets.checkpoint_list import CheckpointList
from ..widgets.log_panel import LogPanel
from ..widgets.log_view import LogView
from ..widgets.plot import LossPlot
from ..widgets.spec_form import SpecForm
from ..widgets.table_sync import sync_rows
from .base import DeployRequested, ModelRegistered, Pane, PaneKey, pane_keys
from .data import find_datasets

if TYPE_CHECKING:
    from finetui.core.models import Checkpoint, MetricPoint, RegisteredModel
    from finetui.core.progress import JobProgress
    from finetui.core.spec import ResolvedSpec

STATUS_MARK = {JobStatus.COMPLETED: "✔", JobStatus.FAILED: "✘", JobStatus.CANCELED: "■", JobStatus.RUNNING: "▶"}
ROW_LINES = 3
MIRROR_POLL_S = 1.0  # a remote log (read through the backend) is polled this often while nothing new comes
COST_DEBOUNCE_S = 0.3  # the launch form's cost is estimated again once typing pauses this long
NO_JOBS = "no jobs yet: n opens the launch form (or t on a model in pane 1)"


def short_names(names: list[str]) -> dict[str, str]:
    """Each job name's shortest tail of ``-``-separated parts that no other name ends with.

    Names are ``MODEL-DATE-TIME-RANDOM``: the random part alone tells jobs of one model apart
    in the narrow list; the full name is in Details.
    """
    out = {}
    for name in names:
        parts = name.split("-")
        for k in range(1, len(parts) + 1):
            tail = "-".join(parts[-k:])
            if not any(other != name and (other == tail or other.endswith("-" + tail)) for other in names):
                break
        out[name] = tail
    return out


def job_row(job: Job, now: float, tag: str = "", progress: JobProgress | None = None) -> Text:
    """A job in the list, in words that fit 80 columns: model and the name's short tag, status and run
    time, then when it was created or, while it runs, its step of the total and ETA."""
    ran = job.run_time_s(now)
    model = job.model.split(":")[0]
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"{STATUS_MARK.get(job.status, '…')} ")
    out.append(model if len(model) <= 22 else model[:21] + "…", style="bold")
    if tag and tag != job.name:
        out.append(f" {tag}", style="dim")
    out.append(f"\n  {job.status.value.lower()}" + (f" · {duration(ran)}" if ran is not None else ""))
    if progress is not None and not job.status.terminal:
        # while it runs, how far it is matters more than when it was created (that is in Details)
        out.append(f"\n  {progress.text()}")
    else:
        out.append(f"\n  {time.strftime('%Y-%m-%d %H:%M', time.localtime(job.created_at))}", style="dim")
    return out


def job_details(job: Job, now: float) -> Text:
    out = Text()
    ran = job.run_time_s(now)
    for key, value in (
        ("Job", job.name),
        ("Display name", job.display_name),
        ("Status", job.status.value),
        ("Model", job.model),
        ("Train", job.train_file),
        ("Test", job.test_file or "-"),
        ("Ran", duration(ran)),
        ("Output", job.output_path or "-"),
        ("Error", job.error or "-"),
    ):
        out.append(f"{key:<13}", style="bold")
        out.append(f"{value}\n")
    out.append("\nspec\n", style="bold")
    for key, value in sorted(job.spec.items()):
        out.append(f"  {key} = {value}\n")
    return out


class JobsPane(Pane):
    ACTIONS, BINDINGS = pane_keys(
        PaneKey("new", "launch a fine-tuning job", "n", "New"),
        PaneKey("cancel", "cancel the selected job", "x", "Cancel"),
        PaneKey("register", "register the job's model", "r", "Register"),
        PaneKey(
            "summary", "the job on one screen: time, tokens/s, losses, best checkpoint, next commands", "s", "Summary", show=False
        ),
        PaneKey("show_log", "show the job's log", "l", "Log", show=False),
        PaneKey("show_metrics", "plot loss and eval loss", "m", "Metrics", show=False),
        PaneKey("show_checkpoints", "list the job's saved checkpoints", "c", "Checkpoints", show=False),
        PaneKey("register_checkpoint", "register the highlighted checkpoint as a model", "R", "Register ckpt"),
        PaneKey("deploy_checkpoint", "register the highlighted checkpoint, then deploy it", "d", "Deploy ckpt"),
        PaneKey("refresh", "reload the job list"),
    )
    TABS = "#job-tabs"
    HELP_WIDGETS = (LogPanel, LogView, LossPlot, SpecForm)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.jobs: list[Job] = []
        self.job: Job | None = None
        self._log_for: str | None = None
        self._mirror_dir: Path | None = None
        self._cost_timer: Timer | None = None
        self.cost_for: dict[str, Any] | None = None  # the launch request whose cost the form shows
        self.progress: dict[str, JobProgress | None] = {}  # job name -> progress of the jobs running at the last poll

    def compose(self) -> ComposeResult:
        yield Static("", classes="unavailable")
        with Horizontal():
            with Vertical(classes="side"):
                table = DataTable(id="job-table", cursor_type="row")
                table.add_column("Jobs, newest first")
                yield table
            with TabbedContent(id="job-tabs"):
                with TabPane("Log", id="log-tab"):
                    yield LogPanel(id="job-log")
                with TabPane("Metrics", id="metrics-tab"):
                    yield LossPlot(id="job-plot")
                with TabPane("Checkpoints", id="checkpoints-tab"):
                    yield CheckpointList(id="job-checkpoints")
                with TabPane("Details", id="details-tab"):
                    with VerticalScroll():
                        yield Static("no job selected", id="job-details")
                with TabPane("Launch", id="launch-tab"):
                    yield SpecForm(id="spec-form")

    # -- list --------------------------------------------------------------------------------
    def reload(self) -> None:
        if self.backend is not None:
            self.backend_call(self.backend.list_jobs, then=self.loaded_jobs)

    def poll(self) -> None:
        self.reload()
        if self.backend is not None and self.job is not None and not self.job.status.terminal:
            self.backend_call(self.backend.job_metrics, self.job.name, then=self.loaded_metrics)
            if self._checkpoints_shown():  # a running job saves more
                self._load_checkpoints()

    def loaded_jobs(self, jobs: list[Job] | None, error: str | None) -> None:
        if error:
            self.query_one("#job-details", Static).update(f"not available: {error}")
            return
        self.jobs = jobs or []
        self._show_rows()
        running = [job.name for job in self.jobs if not job.status.terminal]
        if running:
            self.call(self._read_progress, running, self.app.clock(), then=self.loaded_progress)
        if not self.jobs:
            for where in ("#job-details", "#log-status"):  # the Log tab shows first: say it there too
                self.query_one(where, Static).update(NO_JOBS)
        if self.job is not None:
            fresh = next((j for j in self.jobs if j.name == self.job.name), None)
            if fresh is not None:
                self._show_job(fresh)

    def _show_rows(self) -> None:
        now, tags = self.app.clock(), short_names([job.name for job in self.jobs])
        rows = [(job.name, (job_row(job, now, tags[job.name], self.progress.get(job.name)),)) for job in self.jobs]
        sync_rows(self.query_one("#job-table", DataTable), rows, height=ROW_LINES)

    def _read_progress(self, names: list[str], now: float) -> dict[str, JobProgress | None]:
        from finetui.core.progress import read_progress

        out: dict[str, JobProgress | None] = {}
        for name in names:
            try:
                out[name] = read_progress(self.backend, name, now)
            except Exception:  # a job without metrics or log yet (or one gone meanwhile): no progress shown
                out[name] = None
        return out

    def loaded_progress(self, progress: dict[str, JobProgress | None] | None, error: str | None) -> None:
        if progress:
            self.progress.update(progress)
            self._show_rows()

    def focus_main(self) -> None:
        if self.has_class("launching"):  # the list is hidden beside the form
            self.show_tab("log-tab")
        self.query_one("#job-table", DataTable).focus()

    @on(TabbedContent.TabActivated, "#job-tabs")
    def _job_tab_shown(self, event: TabbedContent.TabActivated) -> None:
        self.set_class(event.pane.id == "launch-tab", "launching")
        self.refresh_bindings()  # the checkpoint keys are offered on their tab only
        if event.pane.id == "checkpoints-tab":
            self._load_checkpoints()

    @on(DataTable.RowHighlighted, "#job-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key else None
        job = next((j for j in self.jobs if j.name == name), None)
        if job is not None:
            self._show_job(job)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the footer offers what applies to the selected job (and keeps room for the log's keys at 80 columns)
        if action == "cancel":
            return self.job is not None and not self.job.status.terminal
        if action == "register":
            return self.job is not None and self.job.status is JobStatus.COMPLETED
        if action in ("register_checkpoint", "deploy_checkpoint"):
            return self._checkpoints_shown() and self.query_one(CheckpointList).highlighted() is not None
        return super().check_action(action, parameters)

    def _show_job(self, job: Job) -> None:
        changed = self.job is None or (self.job.name, self.job.status) != (job.name, job.status)
        if changed:
            self.refresh_bindings()
        self.job = job
        if changed and self._checkpoints_shown():  # another job, or this one ended: its last checkpoints
            self._load_checkpoints()
        self.query_one("#job-details", Static).update(job_details(job, self.app.clock()))
        if self._log_for != job.name:
            self._log_for = job.name
            self.call(self._log_path, job.name, then=self.loaded_log_path)
            if self.backend is not None:
                self.backend_call(self.backend.job_metrics, job.name, then=self.loaded_metrics)

    # -- log: the local file when there is one, else a mirror fed by read_log -------------------
    def _log_path(self, name: str) -> Path | None:
        return self.backend.job_log_path(name)

    def loaded_log_path(self, path: Path | None, error: str | None) -> None:
        name = self._log_for
        if path is None:
            if self._mirror_dir is None:
                self._mirror_dir = Path(tempfile.mkdtemp(prefix="finetui-logs-"))
            path = self._mirror_dir / f"{name}.log"
            path.touch()
            self._mirror(name, path)
        self.query_one(LogPanel).load(path, follow=True)  # waits for a log that does not exist yet

    @work(thread=True, exclusive=True, group="log-mirror", exit_on_error=False)
    def _mirror(self, name: str, path: Path) -> None:
        worker = get_current_worker()
        with open(path, "ab") as out:
            for chunk in follow_chunks(
                lambda at: self.backend.read_log(name, at), poll_s=MIRROR_POLL_S, cancelled=lambda: worker.is_cancelled
            ):
                out.write(chunk.text.encode("utf-8"))
                out.flush()

    def _checkpoints_shown(self) -> bool:
        return self.query_one("#job-tabs", TabbedContent).active == "checkpoints-tab"

    def _load_checkpoints(self) -> None:
        if self.backend is None or self.job is None:
            return
        name = self.job.name

        def loaded_checkpoints(checkpoints: list[Checkpoint] | None, error: str | None) -> None:
            if self.job is not None and self.job.name == name:  # not a slower answer for a job no longer selected
                self.query_one(CheckpointList).show(name, checkpoints, error)
                self.refresh_bindings()

        self.backend_call(self.backend.job_checkpoints, name, then=loaded_checkpoints)

    def loaded_metrics(self, points: list[MetricPoint] | None, error: str | None) -> None:
        if not error:
            self.query_one(LossPlot).set_points(points or [])

    # -- actions -------------------------------------------------------------------------------------
    def action_show_log(self) -> None:
        self.show_tab("log-tab")
        self.query_one(LogView).focus()

    def action_show_metrics(self) -> None:
        self.show_tab("metrics-tab")
        self.query_one(LossPlot).focus()

    def action_show_checkpoints(self) -> None:
        self.show_tab("checkpoints-tab")
        self.query_one("#checkpoint-table", DataTable).focus()

    def action_refresh(self) -> None:
        self.reload()

    def action_new(self) -> None:
        self.show_launch()

    def show_launch(self) -> None:
        self.show_tab("launch-tab")
        form = self.query_one(SpecForm)
        model = self.app.selected_model
        form.set_request(model=model)
        # the data folder is scanned here: the Data pane may not have listed it yet
        self.call(find_datasets, self.backend.data_folder() if self.backend else None, then=self.loaded_launch_files)
        if model and self.backend is not None:
            self.backend_call(self.backend.resolve_spec, model, then=self.loaded_resolved)
        self.call_after_refresh(lambda: form.query_one("#req-model").focus())

    def loaded_launch_files(self, files: list[Path] | None, error: str | None) -> None:
        """Fill the train and test files with the workspace's data, unless the user typed some already."""
        files = files or []
        form = self.query_one(SpecForm)
        if not files or form.request_values()["train_file"]:
            return
        train = next((p for p in files if "train" in p.name), files[0])
        test = next((p for p in files if "test" in p.name and p != train), None)
        form.set_request(train_file=train, test_file=test)

    def loaded_resolved(self, resolved: ResolvedSpec | None, error: str | None) -> None:
        if error or resolved is None:
            self.query_one("#form-error", Static).update(f"not available: {error}")
        else:
            self.query_one(SpecForm).set_resolved(resolved)
            self._estimate_cost()

    # what moves the job's cost: its model, target, data and epochs
    @on(Input.Changed, "#req-model, #req-compute, #req-train_file, #spec-num_train_epochs")
    def _cost_input_changed(self) -> None:
        if self._cost_timer is not None:
            self._cost_timer.stop()
        self._cost_timer = self.set_timer(COST_DEBOUNCE_S, self._estimate_cost)  # once typing pauses

    def _estimate_cost(self) -> None:
        from finetui.core.errors import FinetuiError, SpecError

        from ..widgets.spend import launch_cost

        self._cost_timer = None
        form = self.query_one(SpecForm)
        request = form.request_values()
        try:
            changes = form.spec_changes()
        except SpecError:
            return  # the form names the bad value; the cost waits for a good one
        backend, workspace = self.backend, self.app.workspace_root()
        if backend is None or not request["model"]:
            return

        def estimate() -> tuple[dict[str, Any], list[str]]:
            from finetui.core.estimate import cost_lines

            try:
                return request, cost_lines(launch_cost(backend, workspace, request, changes))
            except FinetuiError as exc:  # a file not there yet, an unknown target: said where the cost goes
                return request, [f"cost: not available: {first_line(exc)}"]

        self.call(estimate, then=self.loaded_launch_cost)

    def loaded_launch_cost(self, value: tuple[dict[str, Any], list[str]] | None, error: str | None) -> None:
        request, lines = value if value else (None, [f"cost: not available: {error}"])
        self.query_one(SpecForm).set_cost(lines)
        self.cost_for = request  # the request the shown cost is for: tests wait on it

    def current_spec(self) -> dict[str, Any]:
        try:
            return self.query_one(SpecForm).spec_changes()
        except Exception:
            return {}

    @on(SpecForm.Submitted)
    def _submit(self, event: SpecForm.Submitted) -> None:
        from finetui.core.backend import JobRequest

        request = JobRequest(spec=event.spec or None, spec_source="launch form", **event.request)
        self.query_one("#form-error", Static).update("submitting…")
        if self.backend is not None:
            self.backend_call(self.backend.submit_job, request, then=self.loaded_submit)

    def loaded_submit(self, job: Job | None, error: str | None) -> None:
        self.query_one("#form-error", Static).update(error or "")
        if error or job is None:
            self.app.notify(error, severity="error", title="job not submitted")
            return
        # what `job submit` prints after the name: the spec's notes and the data check
        data = [f"data: {job.data_check}"] if job.data_check else []
        self.app.notify("\n".join([f"job {job.name} submitted", *job.notes, *data]), title="fine-tuning", markup=False)
        # shown at once, before the next list; a poll may have listed it already, and a name is one row
        self.jobs = [job, *(j for j in self.jobs if j.name != job.name)]
        self._show_job(job)
        self.reload()
        self.action_show_log()

    def action_cancel(self) -> None:
        if self.job is None or self.job.status.terminal:
            self.app.notify("select a running job to cancel", severity="warning")
            return
        from ..screens import ConfirmScreen

        name = self.job.name

        def answer(yes: bool | None) -> None:
            if yes and self.backend is not None:
                self.backend_call(self.backend.cancel_job, name, then=self.loaded_cancel)

        question = f"Cancel job {name}? It stops now; the checkpoints it has written are kept."
        self.app.push_screen(ConfirmScreen(question, yes="Cancel job", no="Keep"), answer)

    def loaded_cancel(self, job: Job | None, error: str | None) -> None:
        done = f"job {job.name}: {job.status.value}" if job is not None else ""
        self.app.notify(error or done, severity="error" if error else "information")
        self.reload()

    def action_summary(self) -> None:
        if self.job is None or self.backend is None:
            return
        from finetui.core.job_summary import summarize

        self.call(summarize, self.backend, self.job.name, self.app.clock(), then=self.loaded_summary)

    def loaded_summary(self, summary: JobSummary | None, error: str | None) -> None:
        if error or summary is None:
            self.app.notify(error or "no summary", severity="error", title="summary")
            return
        from ..screens import TextScreen

        lines = summary.lines()
        self.app.push_screen(TextScreen(lines[0], "\n".join([*lines[1:], f"(`finetui job summary {summary.job}`)"]), wide=True))

    def action_register(self) -> None:
        if self.job is None or self.job.status is not JobStatus.COMPLETED:
            self.app.notify("select a completed job to register its model", severity="warning")
            return
        from ..screens import PromptScreen

        name, default = self.job.name, registered_name(self.job)

        def answer(value: str | None) -> None:
            if value and self.backend is not None:
                self.backend_call(self.backend.register_model, name, value, then=self.loaded_register)

        self.app.push_screen(PromptScreen(f"Register the model of {name} as:", value=default), answer)

    def loaded_register(self, model: RegisteredModel | None, error: str | None) -> None:
        if self._registered(model, error):
            self.app.notify(f"registered {model.ref}; deploy it in pane 5", title="registry")

    def _registered(self, model: RegisteredModel | None, error: str | None) -> bool:
        """Whether ``model`` was registered; if so the panes listing registered models learn of it."""
        if error or model is None:
            self.app.notify(error, severity="error", title="not registered")
            return False
        self.post_message(ModelRegistered(model))
        return True

    # -- a saved checkpoint as a model (the Checkpoints tab) ------------------------------------------
    def action_register_checkpoint(self) -> None:
        self._register_checkpoint(then=self.loaded_register)

    def action_deploy_checkpoint(self) -> None:
        self._register_checkpoint(then=self.loaded_checkpoint_to_deploy)

    def _register_checkpoint(self, then: Callable[[RegisteredModel | None, str | None], None]) -> None:
        view = self.query_one(CheckpointList)
        checkpoint, job = view.highlighted(), next((j for j in self.jobs if j.name == view.job), None)
        if checkpoint is None or job is None:
            self.show_tab("checkpoints-tab")
            self.app.notify("choose a saved checkpoint in the Checkpoints tab first", severity="warning")
            return
        from ..screens import PromptScreen

        step = str(checkpoint.step)

        def answer(value: str | None) -> None:
            if value and self.backend is not None:
                self.backend_call(self.backend.register_checkpoint, job.name, step, value, None, "", then=then)

        best = " (the best)" if checkpoint.best else ""
        title = f"Register checkpoint {step}{best} of {job.name} as:"
        self.app.push_screen(PromptScreen(title, value=registered_name(job)), answer)

    def loaded_checkpoint_to_deploy(self, model: RegisteredModel | None, error: str | None) -> None:
        if self._registered(model, error):
            self.app.notify(f"registered {model.ref}; now choose how to deploy it", title="registry")
            self.post_message(DeployRequested(model.ref))
