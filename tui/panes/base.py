"""What every pane shares: backend access, blocking calls in workers, "not available"."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static, TabbedContent

from ..format import first_line


class Loaded(Message):
    """A blocking call finished in a worker: ``value`` or ``error`` (one line)."""

    def __init__(self, key: str, value: Any = None, error: str | None = None, exc: BaseException | None = None) -> None:
        super().__init__()
        self.key, self.value, self.error, self.exc = key, value, error, exc


def displayed(widget: Widget, within: Widget) -> bool:
    """Whether ``widget`` is on screen: neither it nor a container up to ``within`` is hidden."""
    for node in (widget, *widget.ancestors):
        if node is within:
            return True
        if not getattr(node, "display", True):
            return False
    return False


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
    def backend(self) -> Any:
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

    def model_selected(self, ref: str) -> None:
        """The user picked a model in another pane."""

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
    def call(self, key: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn`` in a thread worker (one per key, the newest wins); post Loaded(key)."""

        def job() -> None:
            try:
                value = fn(*args, **kwargs)
            except Exception as exc:  # shown to the user as one line, never raised into the UI
                self.post_message(Loaded(key, error=first_line(exc), exc=exc))
                return
            self.post_message(Loaded(key, value))

        self.run_worker(job, thread=True, exclusive=True, group=f"{self.id}-{key}", exit_on_error=False)

    def backend_call(self, key: str, method: str, *args: Any, **kwargs: Any) -> None:
        backend = self.backend
        if backend is None:
            return
        fn = getattr(backend, method, None)
        if fn is None:
            self.post_message(Loaded(key, error=f"not available: the {backend.name} backend has no {method}()"))
            return
        from finetui.core.action_record import recorded_call

        fn = recorded_call(backend, method, fn, self.app.workspace_root())  # logged as their CLI twins are
        self.call(key, fn, *args, **kwargs)

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        event.stop()
        handler = getattr(self, f"loaded_{event.key}", None)
        if handler is not None:
            handler(event.value, event.error)
        elif event.error:
            self.app.notify(event.error, severity="error")
