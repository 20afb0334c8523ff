"""Endpoints pane: state, uptime, spend and idle time; create, delete by name, keys, chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from finetui.core.units import duration

from ..screens import Extra
from ..widgets.chat import ChatConsole
from ..widgets.endpoint_view import endpoint_details, endpoint_row
from ..widgets.table_sync import sync_rows
from finetui.core.models import EndpointState
from finetui.core.names import endpoint_name_for

from .base import Pane, PaneKey, pane_keys

if TYPE_CHECKING:
    from finetui.core.backend import Backend
    from finetui.core.chat import ChatClient
    from finetui.core.evaluate import DeployGate
    from finetui.core.meter import Meter
    from finetui.core.models import Endpoint, EndpointKeys, RegisteredModel
    from finetui.core.prices import PriceTable

UP = EndpointState.SUCCEEDED


def _parse_ttl(text: str) -> float | None:
    from finetui.core.ttl import parse_ttl

    return parse_ttl(text, "time to live")


def _parse_idle(text: str) -> float | None:
    from finetui.core.ttl import parse_duration

    return parse_duration(text, "idle timeout")


TTL_FIELD = Extra("ttl", "Time to live: then it is stopped (local) or deleted (Azure); empty: none", "e.g. 2h", _parse_ttl)
# the CLI's --idle-timeout, read by the same parser: on Azure the ttl watcher deletes it from Azure Monitor's request counts
IDLE_FIELD = Extra(
    "idle_timeout",
    "Idle timeout: stopped (local) or deleted (Azure) after this long without requests; empty: none",
    "e.g. 30m",
    _parse_idle,
)


def make_client(backend: Backend, endpoint: Endpoint) -> ChatClient:
    """A ChatClient for ``endpoint`` (blocking: reads the keys; run it off the UI thread)."""
    from finetui.core.chat import ChatClient

    keys = backend.endpoint_keys(endpoint.name)
    # the OpenAI-style route streams token by token; /score answers in one piece
    return ChatClient(endpoint.base_url or endpoint.scoring_uri, keys.primary, endpoint=endpoint.name)


class EndpointsPane(Pane):
    ACTIONS, BINDINGS = pane_keys(
        PaneKey("create", "create an endpoint", "c", "Create"),
        PaneKey("delete", "delete the endpoint (type its name)", "d", "Delete"),
        PaneKey("reveal", "reveal or hide the keys", "v", "Keys"),
        PaneKey("chat", "chat with the endpoint", "i", "Chat"),
        PaneKey("compare", "compare two endpoints on the same prompts", "p", "Compare"),
        PaneKey("refresh", "reload endpoints"),
    )
    TABS = "#endpoint-tabs"
    HELP_WIDGETS = (ChatConsole,)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.endpoints: list[Endpoint] = []
        self.endpoint: Endpoint | None = None
        self.keys: EndpointKeys | None = None
        self.revealed = False
        self.prices: PriceTable | None = None  # the workspace's price table, read with the endpoints
        self._deploying: str | None = None  # the model picked to deploy, while its evaluation is read

    def compose(self) -> ComposeResult:
        yield Static("", classes="unavailable")
        with Horizontal():
            with Vertical(classes="side"):
                table = DataTable(id="endpoint-table", cursor_type="row")
                table.add_column("Endpoints")
                yield table
            with TabbedContent(id="endpoint-tabs"):
                with TabPane("Details", id="endpoint-details-tab"):
                    with VerticalScroll():
                        yield Static("no endpoints: c creates one from a registered model", id="endpoint-details")
                with TabPane("Chat", id="endpoint-chat-tab"):
                    yield ChatConsole(id="chat")

    def reload(self) -> None:
        backend = self.backend
        if backend is None:
            return
        from ..widgets.spend import price_table

        workspace = self.app.workspace_root()

        # the prices are read again each time: `finetui prices refresh` may have run meanwhile
        def listed() -> tuple[list[Endpoint], PriceTable]:
            return backend.list_endpoints(), price_table(workspace)

        self.call(listed, then=self.loaded_endpoints)

    def meter(self, endpoint: Endpoint, now: float) -> Meter:
        from finetui.core.meter import meter

        return meter(endpoint, self.prices, now)

    def poll(self) -> None:
        self.reload()

    def running_endpoints(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.state is UP]

    def loaded_endpoints(self, listed: tuple[list[Endpoint], PriceTable] | None, error: str | None) -> None:
        if error or listed is None:
            self.query_one("#endpoint-details", Static).update(f"not available: {error}")
            return
        self.endpoints, self.prices = listed
        now = self.app.clock()
        rows = [(e.name, (endpoint_row(e, self.meter(e, now)),)) for e in self.endpoints]
        sync_rows(self.query_one("#endpoint-table", DataTable), rows, height=3)
        if not self.endpoints:
            self.query_one("#endpoint-details", Static).update(
                "no endpoints: c deploys a registered model (register one with r on a finished job in pane 4)"
            )
        if self.endpoint is not None:
            fresh = next((e for e in self.endpoints if e.name == self.endpoint.name), None)
            self._show(fresh)

    def focus_main(self) -> None:
        self.query_one("#endpoint-table", DataTable).focus()

    @on(DataTable.RowHighlighted, "#endpoint-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key else None
        self._show(next((e for e in self.endpoints if e.name == name), None))

    def _show(self, endpoint: Endpoint | None) -> None:
        if endpoint is None or self.endpoint is None or endpoint.name != self.endpoint.name:
            self.keys, self.revealed = None, False
        self.endpoint = endpoint
        details = self.query_one("#endpoint-details", Static)
        chat = self.query_one(ChatConsole)
        if endpoint is None:
            details.update("no endpoint selected")
            chat.set_endpoint(None, None)
            return
        now = self.app.clock()
        details.update(endpoint_details(endpoint, self.meter(endpoint, now), now, self.keys, self.revealed))
        if endpoint.state is UP and self.backend is not None:
            backend = self.backend
            chat.set_endpoint(endpoint.base_url or endpoint.scoring_uri, lambda: make_client(backend, endpoint))
        else:
            chat.set_endpoint(None, None)

    # -- actions ---------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.reload()

    def action_chat(self) -> None:
        self.show_tab("endpoint-chat-tab")
        self.query_one("#chat-input").focus()

    def action_compare(self) -> None:
        """The selected endpoint beside another one that is up, picked from a list."""
        from ..screens import PickScreen

        first = self.endpoint
        others = [e for e in self.running_endpoints() if first is None or e.name != first.name]
        if first is None or first.state is not UP or not others:
            self.app.notify("compare needs two endpoints that are up: select one, then pick the other", severity="warning")
            return

        def picked(name: str | None) -> None:
            second = next((e for e in others if e.name == name), None)
            if second is not None:
                self._open_compare(first, second)

        self.app.push_screen(
            PickScreen(f"Compare {first.name} with:", [(e.name, f"{e.name}  ({e.model})") for e in others]), picked
        )

    def _open_compare(self, *endpoints: Endpoint) -> None:
        from ..widgets.compare import CompareScreen

        backend = self.backend
        if backend is None:
            return
        sides = [(e.name, e.base_url or e.scoring_uri, lambda e=e: make_client(backend, e)) for e in endpoints]
        self.app.push_screen(CompareScreen(sides))

    def action_reveal(self) -> None:
        if self.endpoint is None:
            return
        self.show_tab("endpoint-details-tab")  # the keys show where the user can see them
        if self.keys is None:
            if self.backend is not None:
                self.backend_call(self.backend.endpoint_keys, self.endpoint.name, then=self.loaded_keys)
            return
        self.revealed = not self.revealed
        self._show(self.endpoint)

    def loaded_keys(self, keys: EndpointKeys | None, error: str | None) -> None:
        if error:
            self.app.notify(error, severity="error")
            return
        self.keys, self.revealed = keys, True
        self._show(self.endpoint)

    def action_create(self, selected: str | None = None) -> None:
        """Pick the model from a list (registered versions, then the workspace's base models), name the endpoint."""
        self._preselect = selected
        if self.backend is not None:
            self.backend_call(self.backend.list_registered, then=self.loaded_registered)

    def loaded_registered(self, models: list[RegisteredModel] | None, error: str | None) -> None:
        from ..screens import PickScreen

        if error:
            self.app.notify(error, severity="error", title="cannot list registered models")
            return
        choices = [(m.ref, f"{m.ref}  (registered)") for m in reversed(models or [])]
        # base models this machine can serve (the catalog lists registered versions too: shown once, above)
        choices += [(m.ref, f"{m.ref}  (base model)") for m in self.app.catalog if m.path and m.source != "registry"]
        if not choices:
            self.app.notify("nothing to deploy yet: register a finished job's model with r in pane 4", severity="warning")
            return

        def got_model(ref: str | None) -> None:
            if ref:  # first what its evaluation says (endpoint create's gate), then its name
                self._deploying = ref
                self.call(self.backend.evaluation_gate, ref, then=self.loaded_gate)

        self.app.push_screen(PickScreen("Deploy which model?", choices, getattr(self, "_preselect", None)), got_model)

    def loaded_gate(self, gate: DeployGate | None, error: str | None) -> None:
        """Ask for the endpoint's name under what the model's latest evaluation says, as `endpoint create` prints it."""
        from ..screens import PromptScreen

        ref = self._deploying
        if ref is None:
            return
        said = "" if gate is None else ("warning: " if gate.warn else "evaluation: ") + gate.message + "\n"
        name = endpoint_name_for(ref.split(":")[0])
        screen = PromptScreen(f"{said}Deploy {ref} as endpoint:", value=name, extras=[TTL_FIELD, IDLE_FIELD])
        if gate is not None and gate.warn:
            screen.add_class("warned")
        self.app.push_screen(
            screen, lambda n: n and self._create(n, ref, screen.parsed.get("ttl"), screen.parsed.get("idle_timeout"))
        )

    def _create(self, name: str, ref: str, ttl_s: float | None = None, idle_s: float | None = None) -> None:
        from finetui.core.endpoint_options import AzureEndpointOptions, LocalEndpointOptions
        from finetui.core.ttl import create_endpoint
        from finetui.core.workspace import resolve_workspace

        backend = self.backend
        # where an Azure endpoint's ttl watcher keeps its status: the same folder the CLI's would use
        root = resolve_workspace(self.app.workspace_root())
        if backend.name == "azure":  # the tutorial's choice of VM, checked by the backend
            from ..screens import PromptScreen

            def got_type(instance_type: str | None) -> None:
                if instance_type:
                    options = AzureEndpointOptions(instance_type=instance_type, idle_timeout_s=idle_s)
                    self.app.notify(f"creating endpoint {name} from {ref} on {instance_type}…", title="endpoints")
                    self.app.action_show("endpoints")  # as on the local backend: the new row appears where the user looks
                    self.call(create_endpoint, backend, root, name, ref, options, ttl_s, then=self.loaded_created)

            title = "Instance type (the base model's inference_compute_allow_list applies):"
            self.app.push_screen(PromptScreen(title, value=AzureEndpointOptions.instance_type), got_type)
            return
        self.app.notify(f"creating endpoint {name} from {ref}…", title="endpoints")
        self.app.action_show("endpoints")  # the new row appears where the user looks
        self.call(
            create_endpoint,
            backend,
            root,
            name,
            ref,
            LocalEndpointOptions(ttl_s=ttl_s, idle_timeout_s=idle_s),
            ttl_s,
            then=self.loaded_created,
        )

    def loaded_created(self, created: tuple[Endpoint, dict[str, Any] | None] | None, error: str | None) -> None:
        if error or created is None:
            self.app.notify(error, severity="error", title="endpoint not created")
        else:
            endpoint, watcher = created
            ends = f", time to live {duration(endpoint.ttl_s)}" if endpoint.ttl_s else ""
            self.app.notify(
                f"endpoint {endpoint.name}: {endpoint.state.value}{ends}"
                + (f" (ttl watcher: process {watcher['pid']})" if watcher else ""),
                title="endpoints",
            )
        self.reload()

    def action_delete(self) -> None:
        if self.endpoint is None:
            return
        from ..screens import PromptScreen

        name = self.endpoint.name

        def answer(value: str | None) -> None:
            if value == name and self.backend is not None:
                self.app.notify(f"deleting {name}…", title="endpoints")
                self.backend_call(self.backend.delete_endpoint, name, then=self.loaded_deleted)

        self.app.push_screen(PromptScreen(f"Type {name} to delete the endpoint:", must_equal=name), answer)

    def loaded_deleted(self, _: None, error: str | None) -> None:
        self.app.notify(error or "endpoint deleted", severity="error" if error else "information")
        self.endpoint = None
        self.reload()
