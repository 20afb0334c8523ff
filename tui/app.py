"""The finetui app: five panes over the core Backend, keyboard first.

Start-up paints before anything slow happens: the backend is built in a worker
thread, then each pane loads its own data in its own workers. Nothing here
imports torch, transformers, datasets, mlflow or azure.ai.ml.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.lazy import Lazy
from textual.message import Message
from textual.reactive import var
from textual.widgets import Footer, ProgressBar, Static, TabbedContent, TabPane

from finetui.core.errors import Unsupported
from finetui.core.models import JobStatus

from .commands import ActionsProvider
from .format import first_line
from .notify import EndWatcher, desktop_notice
from .panes.base import CheckRequested, DeployRequested, LaunchRequested, ModelRegistered, Pane
from .pane_table import PANES
from .panes.compute import ComputePane
from .panes.endpoints import EndpointsPane
from .panes.jobs import JobsPane

if TYPE_CHECKING:
    from finetui.core.backend import Backend
    from finetui.core.models import CatalogModel

    from .notify import Ended
    from .widgets.spend import MeterUpdated


# messages as dataclasses, as Textual's own widgets write them (Message.__init__ only runs __post_init__)
@dataclass
class BackendReady(Message):
    backend: Backend


@dataclass
class BackendFailed(Message):
    error: str


@dataclass
class DemoProgress(Message):
    text: str
    fraction: float | None
    done: bool = False


@dataclass
class EndsSeen(Message):
    """Jobs or evaluations that ended while the app was open (``notify.Ended`` each)."""

    ended: list[Ended]


class FinetuiApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "finetui"
    AUTO_FOCUS = "#model-table"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = [
        # the tab bar shows "1 Models ... 5 Endpoints": the footer keeps its room for the pane's keys
        *(Binding(str(i + 1), f"show('{pid}')", label, show=False) for i, (pid, label, _) in enumerate(PANES)),
        Binding("plus", "zoom", "zoom: the view takes the whole screen (again: back)", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("at", "command_log", "Command log", show=False),
        Binding("e", "arena", "Evaluate arena", show=False),
        Binding("q", "quit", "Quit"),
        Binding("escape", "leave_input", "Leave field", show=False),
    ]
    # the model picked in pane 1: the panes that depend on it watch it
    selected_model: var[str | None] = var(None)

    def __init__(
        self,
        backend_factory: Callable[[], Backend] | None = None,
        *,
        workspace: str | None = None,
        build_demo: bool = False,
        poll_interval: float | None = 2.0,
        clock: Callable[[], float] = time.time,
        log_root: str | None = None,
    ) -> None:
        super().__init__()
        self.backend_factory = backend_factory
        self.workspace = workspace
        self.log_root = log_root  # where the command log lives when the backend has no local workspace (Azure)
        self.backend: Backend | None = None
        self.backend_error: str | None = None
        self.want_demo = build_demo
        self.poll_interval = poll_interval
        self.clock = clock
        self.catalog: list[CatalogModel] = []  # pane 1's listing, which pane 5 offers as base models to deploy
        self.started = time.perf_counter()
        self.end_watcher = EndWatcher(since=clock())  # what ends from now on is announced

    def compose(self) -> ComposeResult:
        with TabbedContent(id="panes"):
            for i, (pid, label, cls) in enumerate(PANES):
                with TabPane(f"{i + 1} {label}", id=pid):
                    # hidden panes mount just after the first frame: it comes ~0.2 s sooner
                    yield cls(id=f"{pid}-pane") if i == 0 else Lazy(cls(id=f"{pid}-pane"))
        yield Static("starting…", id="status")
        yield ProgressBar(id="demo-progress", show_eta=False, classes="hidden")
        yield Footer(show_command_palette=False)  # Ctrl+P still opens it; the room goes to the pane's keys

    def on_mount(self) -> None:
        self.call_after_refresh(self._first_frame)
        if self.backend_factory is not None:
            self._build_backend()
        else:
            self.post_message(BackendFailed("no backend configured"))
        if self.poll_interval:
            self.set_interval(self.poll_interval, self._poll)
            self.set_interval(self.poll_interval, self._watch_ends)

    def _first_frame(self) -> None:
        self.log.info(f"first frame in {(time.perf_counter() - self.started) * 1000:.0f} ms")

    # -- backend -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="backend")
    def _build_backend(self) -> None:
        try:
            backend = self.backend_factory()
        except Exception as exc:
            self.post_message(BackendFailed(first_line(exc)))
            return
        self.post_message(BackendReady(backend))
        if self.want_demo and backend.name == "local":
            self._maybe_build_demo(backend)

    def _maybe_build_demo(self, backend: Backend) -> None:
        """First run: an empty local workspace gets the offline demo (progress shown in the app)."""

        def progress(text: str, fraction: float | None) -> None:
            self.post_message(DemoProgress(text, fraction))

        try:
            built = backend.build_demo(progress, only_if_empty=True)
        except Exception as exc:
            self.post_message(DemoProgress(f"demo build failed: {first_line(exc)}", None, done=True))
            return
        if built is not None:
            self.post_message(DemoProgress("demo workspace ready", 1.0, done=True))

    @on(BackendReady)
    def _backend_ready(self, event: BackendReady) -> None:
        self.backend = event.backend
        where = event.backend.state_folder() or self.workspace or ""
        self.set_status(f"{event.backend.name} · {where}")
        for pane in self.panes():
            pane.backend_ready()
        self._refresh_meter()
        if self.poll_interval:
            from .widgets.spend import METER_EVERY_S

            self.set_interval(METER_EVERY_S, self._refresh_meter)

    @on(BackendFailed)
    def _backend_failed(self, event: BackendFailed) -> None:
        self.backend_error = event.error
        self.set_status(f"not available: {event.error}")
        for pane in self.panes():
            pane.show_unavailable(event.error)

    @on(DemoProgress)
    def _demo_progress(self, event: DemoProgress) -> None:
        bar = self.query_one("#demo-progress", ProgressBar)
        bar.set_class(event.done, "hidden")
        if event.fraction is not None:
            bar.update(total=1.0, progress=event.fraction)
        self.set_status(event.text)
        if event.done:
            self.notify(event.text, timeout=4)
            for pane in self.panes():
                pane.reload()

    # -- panes ------------------------------------------------------------------------------
    def panes(self) -> list[Pane]:
        """The mounted panes (hidden ones mount just after the first frame)."""
        return [p for pid, _, _ in PANES for p in self.query(f"#{pid}-pane") if p.is_mounted]

    def pane(self, pid: str) -> Pane:
        return self.query_one(f"#{pid}-pane", Pane)

    def current_spec(self) -> dict[str, Any]:
        """The user's changes in the launch form, for compute checks and validation."""
        jobs = [p for p in self.panes() if isinstance(p, JobsPane)]
        return jobs[0].current_spec() if jobs else {}

    def set_status(self, text: str) -> None:
        self._status_text = text
        meter = getattr(self, "_meter_text", "")
        self.query_one("#status", Static).update(f"{text}  ·  {meter}" if meter else text)

    @work(thread=True, exclusive=True, group="meter", exit_on_error=False)
    def _refresh_meter(self) -> None:
        from .widgets.spend import MeterUpdated, meter_text

        try:
            text = meter_text(self.backend.list_endpoints(), self.clock(), self.workspace_root())
        except Exception:  # the meter is a nicety: an unreachable service shows in pane 5, not here
            return
        self.post_message(MeterUpdated(text))

    def on_meter_updated(self, event: MeterUpdated) -> None:
        self._meter_text = event.text
        self.set_status(getattr(self, "_status_text", ""))

    @property
    def mounted(self) -> bool:
        return len(self.panes()) == len(PANES)

    def action_show(self, pid: str) -> None:
        self.query_one(TabbedContent).active = pid
        for pane in self.panes():
            if pane.id == f"{pid}-pane":
                pane.focus_main()

    @on(TabbedContent.TabActivated, "#panes")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pid = event.pane.id or ""
        if pid and self.backend is not None:
            for pane in self.panes():
                if pane.id == f"{pid}-pane":
                    pane.on_shown()

    def action_pane(self, pid: str, action: str) -> None:
        """Palette entry point: show a pane, then run one of its actions."""
        self.action_show(pid)
        self.call_after_refresh(self.pane(pid).run_action, action)

    # -- one pane's request of another: show the target pane and let it act ---------------------
    @on(CheckRequested)
    def _check_requested(self, event: CheckRequested) -> None:
        self.selected_model = event.model
        self.query_one(ComputePane).action_recheck()
        self.action_show("compute")

    @on(LaunchRequested)
    def _launch_requested(self, event: LaunchRequested) -> None:
        self.selected_model = event.model
        self.action_show("jobs")
        self.query_one(JobsPane).show_launch()

    @on(DeployRequested)
    def _deploy_requested(self, event: DeployRequested) -> None:
        self.query_one(EndpointsPane).action_create(event.preselect)

    @on(ModelRegistered)
    def _model_registered(self, event: ModelRegistered) -> None:
        # the catalog lists registered versions too, and the create form offers them
        self.pane("models").reload()
        self.query_one(EndpointsPane).reload()

    def _poll(self) -> None:
        if self.backend is None:
            return
        active = self.query_one(TabbedContent).active
        if active in ("jobs", "endpoints"):
            for pane in self.panes():
                if pane.id == f"{active}-pane":
                    pane.poll()

    def action_zoom(self) -> None:
        """Any pane: hide the lists beside the view and the pane tabs, so a log or a chat gets the full width."""
        self.screen.toggle_class("zoomed")

    # -- a job or an evaluation ended: toast, bell and desktop notice ------------------------
    @work(thread=True, exclusive=True, group="watch-ends", exit_on_error=False)
    def _watch_ends(self) -> None:
        backend = self.backend
        if backend is None:
            return
        items = [(f"job {j.name}", j.status.value, j.ended_at, j.error) for j in backend.list_jobs()]
        try:
            runs = backend.list_evals()
        except Unsupported:  # a backend without evaluation runs: only its jobs end
            runs = []
        items += [(f"evaluation {r.name}", r.status.value, r.ended_at, r.error) for r in runs]
        ended = self.end_watcher.ended(items)
        if ended:
            self.post_message(EndsSeen(ended))

    @on(EndsSeen)
    def _announce(self, message: EndsSeen) -> None:
        for end in message.ended:
            text = f"{end.what} {end.status}" + (f": {end.error}" if end.error else "")
            if end.what.startswith("job "):
                text += "\n(pane 4, s: its summary)"
            self.notify(
                text,
                title="finetui",
                severity="information" if end.status == JobStatus.COMPLETED.value else "warning",
                timeout=10,
            )
            if self._driver is not None:
                self._driver.write(desktop_notice("finetui", f"{end.what} {end.status}"))
        self.bell()

    def action_leave_input(self) -> None:
        from textual.widgets import Input

        if isinstance(self.focused, Input):
            pid = self.query_one(TabbedContent).active
            self.pane(pid).focus_main()

    def action_arena(self) -> None:
        """The latest evaluation's scores and answers, row by row."""
        from .widgets.arena import ArenaScreen

        if self.backend is not None:
            self.push_screen(ArenaScreen(self.backend))

    def action_help(self) -> None:
        from .help import help_text
        from .screens import HelpScreen

        self.push_screen(HelpScreen(help_text(self, PANES)))

    def workspace_root(self) -> str | None:
        """Where the command log and the price override live: the local workspace, if there is one."""
        root = self.backend.state_folder() if self.backend is not None else None
        return str(root) if root is not None else (self.workspace or self.log_root)

    def action_command_log(self) -> None:
        from .widgets.command_log import CommandLogScreen

        self.push_screen(CommandLogScreen(self.workspace_root()))

    # -- quitting: detached jobs and endpoints keep running -----------------------------------
    async def action_quit(self) -> None:
        endpoints = [p for p in self.panes() if p.id == "endpoints-pane"]
        up = endpoints[0].running_endpoints() if endpoints else []
        if not up:
            self.exit()
            return
        from .screens import ConfirmScreen

        from .widgets.spend import quit_question

        question = quit_question(up, self.clock(), self.workspace_root())

        def done(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), done)
