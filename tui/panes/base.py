"""What every pane shares: backend access, blocking calls in workers, "not available"."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from textual import on
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from ..format import first_line


class Loaded(Message):
    """A blocking call finished in a worker: ``value`` or ``error`` (one line)."""

    def __init__(self, key: str, value: Any = None, error: str | None = None, exc: BaseException | None = None) -> None:
        super().__init__()
        self.key, self.value, self.error, self.exc = key, value, error, exc


class Pane(Vertical):
    # (action name, palette title, key shown) for the command palette
    ACTIONS: ClassVar[list[tuple[str, str, str]]] = []

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
