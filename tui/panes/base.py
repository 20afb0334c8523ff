"""What every pane shares: backend access, blocking calls in workers, "not available"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, TypeVar

from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static, TabbedContent

from ..format import first_line

if TYPE_CHECKING:
    from finetui.core.backend import Backend
    from finetui.core.models import RegisteredModel


T = TypeVar("T")


class CallDone(Message):
    """A blocking call finished in a worker; ``deliver`` hands its value or error to the pane's handler."""

    def __init__(self, deliver: Callable[[], None]) -> None:
        super().__init__()
        self.deliver = deliver


def displayed(widget: Widget, within: Widget) -> bool:
    """Whether ``widget`` is on screen: neither it nor a container up to ``within`` is hidden."""
    for node in (widget, *widget.ancestors):
        if node is within:
            return True
        if not getattr(node, "display", True):
            return False
    return False


@dataclass(frozen=True)
class PaneKey:
    """One action of a pane, declared once: its palette title, the key shown, and the pane's binding if it has one."""

    action: str
    title: str  # the command palette's and the help's words
    key: str = ""  # as shown; "" for none
    label: str | None = None  # the footer's; None: the pane binds no key (a table's own key, or none)
    show: bool = True  # False: bound, but left out of the footer
    tooltip: str = ""
    bind: str | None = None  # the binding's key name, where it is not the key shown ("slash" for "/")


def pane_keys(*keys: PaneKey) -> tuple[list[tuple[str, str, str]], list[Binding]]:
    """A pane's ``ACTIONS`` (for the palette and the help) and ``BINDINGS``, from one table."""
    actions = [(k.action, k.title, k.key) for k in keys]
    bindings = [Binding(k.bind or k.key, k.action, k.label, show=k.show, tooltip=k.tooltip) for k in keys if k.label is not None]
    return actions, bindings


class Pane(Vertical):
    # (action name, palette title, key shown) for the command palette
    ACTIONS: ClassVar[list[tuple[str, str, str]]] = []
    # the selector of the pane's sub-tabs, if it has any
    TABS: ClassVar[str | None] = None
    # widgets inside this pane whose own keys the help lists under it
    HELP_WIDGETS: ClassVar[tuple[type, ...]] = ()
    BINDINGS = [
        Binding("right_square_bracket", "next_tab(1)", "Tab", tooltip="next sub-tab"),
        Binding("left_square_bracket", "next_tab(-1)", "previous sub-tab", show=False),
        Binding("escape", "back", "Back / leave field", show=False),
    ]

    @property
    def backend(self) -> Backend | None:
        return self.app.backend

    _started = False

    def on_mount(self) -> None:
        # panes mount lazily: the backend may have come up before or while this one mounted
        self.call_after_refresh(self._start_if_ready)

    def _start_if_ready(self) -> None:
        if self.app.backend is not None and not self._started:
            self.backend_ready()

    # -- hooks the app calls ----------------------------------------------------------
    def backend_ready(self) -> None:
        self._started = True
        self.reload()

    def reload(self) -> None:
        """Fetch this pane's data (in workers)."""

    def on_shown(self) -> None:
        """The pane became visible."""

    def poll(self) -> None:
        """Called every few seconds while the pane is visible."""

    def focus_main(self) -> None:
        for widget in self.query("*"):
            if widget.focusable and widget.display and widget.visible:
                widget.focus()
                return

    # -- sub-tabs: an action shows its result, and the keys keep working after a switch ---------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_tab" and self.TABS is None:
            return False  # no sub-tabs: the key is not offered in the footer
        return True

    def show_tab(self, tab: str) -> None:
        if self.TABS is not None:
            self.query_one(self.TABS, TabbedContent).active = tab

    def action_next_tab(self, step: int) -> None:
        if self.TABS is None:
            return
        tabs = self.query_one(self.TABS, TabbedContent)
        ids = [pane.id for pane in tabs.query("TabPane") if pane.parent.parent is tabs]
        if tabs.active in ids:
            tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)]

    def action_back(self) -> None:
        """Esc: leave a text field first; then go back to the first sub-tab."""
        if isinstance(self.app.focused, Input):
            self.focus_main()
            return
        if self.TABS is not None:
            tabs = self.query_one(self.TABS, TabbedContent)
            first = next(iter(tabs.query("TabPane")), None)
            if first is not None and tabs.active != first.id:
                tabs.active = first.id

    @on(TabbedContent.TabActivated)
    def _sub_tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if self.TABS is not None and event.tabbed_content is self.query_one(self.TABS):
            self.call_after_refresh(self._focus_visible, event.pane)

    def _focus_visible(self, tab: Widget) -> None:
        """A focused widget in a tab that was just hidden takes the pane's keys with it: refocus."""
        focused = self.app.focused
        if focused is not None and (self not in focused.ancestors or displayed(focused, self)):
            return  # the user is elsewhere, or what they focus is still on screen
        if not displayed(self, self.screen):
            return  # this pane is not the one showing
        for widget in tab.query("*"):
            if widget.focusable and displayed(widget, self):
                widget.focus()
                return
        self.focus_main()

    def show_unavailable(self, reason: str) -> None:
        for note in self.query(".unavailable").results(Static):
            note.update(f"not available: {reason}")
            note.display = True

    # -- blocking calls ------------------------------------------------------------------
    def call(self, fn: Callable[..., T], *args: object, then: Callable[[T | None, str | None], None]) -> None:
        """Run ``fn`` in a thread worker, then ``then(value, None)`` or ``then(None, error)`` on the UI thread.

        One worker per handler (the newest wins); an error reaches ``then`` as one line, never raised into the UI.
        """

        def job() -> None:
            try:
                value = fn(*args)
            except Exception as exc:  # shown to the user as one line, never raised into the UI
                error = first_line(exc)
                self.post_message(CallDone(lambda: then(None, error)))
                return
            self.post_message(CallDone(lambda: then(value, None)))

        self.run_worker(job, thread=True, exclusive=True, group=f"{self.id}-{then.__name__}", exit_on_error=False)

    def backend_call(self, method: Callable[..., T], *args: object, then: Callable[[T | None, str | None], None]) -> None:
        """``call`` for a bound Backend method, recorded in the command log as its CLI twin would be."""
        from finetui.core.action_record import recorded_call

        fn = recorded_call(self.backend, method.__name__, method, self.app.workspace_root())
        self.call(fn, *args, then=then)

    @on(CallDone)
    def _call_done(self, event: CallDone) -> None:
        event.stop()
        event.deliver()


# -- what one pane asks of another goes through the app, which shows the target pane and lets it act --
@dataclass
class ModelRequest(Message):
    model: str


class CheckRequested(ModelRequest):
    """Check whether ``model`` fits on compute (pane 2)."""


class LaunchRequested(ModelRequest):
    """Open the launch form (pane 4) for ``model``."""


@dataclass
class DeployRequested(Message):
    """Pick a model to deploy as an endpoint (pane 5), ``preselect`` highlighted in the list."""

    preselect: str | None = None


@dataclass
class ModelRegistered(Message):
    """A job's model was registered: the panes that list registered models read them again."""

    model: RegisteredModel
