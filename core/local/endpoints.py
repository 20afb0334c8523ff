"""Local online endpoints: a registered model behind key auth on this machine.

Each endpoint is a detached server process (``finetui.core.local.serve``)
in its own session, so closing the app or the terminal leaves it serving.
Its record (SQLite) holds host, port, pid and pid start time; its folder
holds ``server.log``, ``keys.json`` (0600) and ``state.json`` (the server's
last request time, written every few seconds). The state a caller sees is
the record checked against reality: a server whose process is gone, or that
does not answer /health, shows as Unhealthy with the last lines of its log.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import time
from typing import TYPE_CHECKING, Any

from ..endpoint_options import LocalEndpointOptions, host_warning
from ..errors import Conflict, InvalidInput, NotFound, NothingToDelete, OperationFailed
from ..log_reading import DEFAULT_MAX_BYTES, read_chunk
from ..models import Endpoint, EndpointKeys, EndpointState, LogChunk
from ..names import check_name
from ..workspace import WorkspacePaths
from .. import procs
from .address import free_port, http_status, port_open, url_host
from .records import Damaged, EndpointRecord, public
from .serve.auth import read_keys, write_keys
from .store import Store

if TYPE_CHECKING:  # the catalog loads on first use
    from .catalog import LocalCatalog

READY_TIMEOUT_S = 120.0
_LIVE = (EndpointState.SUCCEEDED.value, EndpointState.CREATING.value, EndpointState.UPDATING.value)


class LocalEndpoints:
    def __init__(self, paths: WorkspacePaths, store: Store, registry: Any, catalog: LocalCatalog | None = None) -> None:
        self.paths = paths
        self.store = store
        self.registry = registry
        self._catalog = catalog

    # -- create --------------------------------------------------------------------
    def create(
        self,
        name: str,
        model_ref: str,
        options: LocalEndpointOptions | None = None,
        *,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> Endpoint:
        from ..ttl import check_ttl

        check_name("endpoint", name)
        o = options or LocalEndpointOptions()
        host, port, request_timeout_ms, idle_timeout_s = o.host, o.port, o.request_timeout_ms, o.idle_timeout_s
        max_queue, read_timeout_s = o.max_queue, o.read_timeout_s
        ttl_s = check_ttl(o.ttl_s)
        if not 1 <= int(request_timeout_ms) <= 3_600_000:
            raise InvalidInput(f"request timeout {request_timeout_ms} ms is out of range; use 1..3600000")
        if idle_timeout_s is not None and idle_timeout_s <= 0:
            raise InvalidInput(f"idle timeout {idle_timeout_s} s: must be positive")
        if max_queue is not None and not 0 <= int(max_queue) <= 100_000:
            raise InvalidInput(f"max queue {max_queue}: use 0..100000 requests waiting beyond the generating batch")
        if read_timeout_s is not None and not 0 < read_timeout_s <= 3600:
            raise InvalidInput(f"read timeout {read_timeout_s} s is out of range; use a value in (0, 3600]")
        if port is not None and not 1 <= port <= 65535:
            raise InvalidInput(f"port {port} is out of range; use 1..65535")
        ref, model_path = self._resolve_model(model_ref)
        if port is None:
            port = free_port(host)
        elif port_open(host, port):
            raise Conflict(f"port {port} on {host} is in use; pick another --port or leave it out")
        base = f"http://{url_host(host)}:{port}"
        now = time.time()
        record = EndpointRecord(
            name=name,
            model=ref,
            state=EndpointState.CREATING,
            host=host,
            port=port,
            base_url=f"{base}/v1",
            scoring_uri=f"{base}/score",
            openapi_uri=f"{base}/openapi.json",
            created_at=now,
            request_timeout_ms=int(request_timeout_ms),
            idle_timeout_s=idle_timeout_s,
            max_queue=None if max_queue is None else int(max_queue),
            read_timeout_s=read_timeout_s,
            model_path=model_path,
            log_path=str(self.paths.endpoint_dir(name) / "server.log"),
            warning=host_warning(host),
            # the server stops itself at expires_at (serve/__main__.py)
            ttl_s=ttl_s,
            expires_at=None if ttl_s is None else now + ttl_s,
        )
        existing = self.store.add_endpoint(record)
        if existing is not None:
            raise Conflict(f"endpoint {name} already exists ({existing}); pick another name or `finetui endpoint delete {name}`")
        folder = self.paths.endpoint_dir(name)
        try:
            if folder.exists():  # left over from an endpoint of the same name
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            write_keys(folder / "keys.json", secrets.token_urlsafe(32), secrets.token_urlsafe(32))
            self._spawn(name)
        except BaseException:
            self.store.delete_endpoint(name)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self.wait_ready(name, ready_timeout_s) if o.wait else self.get(name)

    def _resolve_model(self, ref: str) -> tuple[str, str]:
        """Registry first (fine-tuned models), then the catalog (base models such as the demo base)."""
        from .artifacts import resolve_hf_dirs

        try:
            m = self.registry.get(ref)
            found = (m.ref, m.path)
        except NotFound as registry_miss:
            try:
                c = self._catalog_service().get(ref)
            except NotFound:
                if not registry_miss.message.startswith("no registered model named"):
                    raise registry_miss from None  # the name is registered, the version is not: its message lists them
                # one sentence and one hint: both misses say "`finetui model list`", which said twice reads as a stutter
                raise NotFound(
                    f"no model named {ref!r} in workspace {self.paths.root}: neither registered nor in the catalog "
                    "(`finetui model list` shows them)"
                ) from None
            if not c.path:
                raise InvalidInput(f"model {c.ref} has no local files ({c.source}); only local models can be served here")
            found = (c.ref, c.path)
        resolve_hf_dirs(found[1])  # a folder we cannot serve fails here, not in the server
        return found

    def _catalog_service(self) -> LocalCatalog:
        if self._catalog is None:
            from .catalog import LocalCatalog

            self._catalog = LocalCatalog(self.paths, self.store)
        return self._catalog

    def _spawn(self, name: str) -> None:
        argv = procs.python_module_argv("finetui.core.local.serve", "--workspace", str(self.paths.root), "--endpoint", name)
        folder = self.paths.endpoint_dir(name)
        (folder / "state.json").unlink(missing_ok=True)
        pid, started = procs.spawn_detached(
            argv,
            log_path=folder / "server.log",
            cwd=folder,
            env={
                "HF_HUB_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
                "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "TRANSFORMERS_VERBOSITY": "error",
            },
        )
        self.store.update_endpoint(name, pid=pid, pid_start_time=started, started_at=time.time(), last_request_at=None)

    def wait_ready(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> Endpoint:
        """Block until the server answers /ready; on death or timeout record Failed and raise."""
        deadline = time.monotonic() + timeout_s
        while True:
            rec = self._record(name)
            if rec.state is EndpointState.STOPPED and rec.expires_at and time.time() >= rec.expires_at:
                raise OperationFailed(f"endpoint {name} stopped: {rec.error}")  # its time ran out while it started
            if rec.state is EndpointState.FAILED:
                self._stop_process(rec)  # the server is on its way out; make sure it is gone
                raise OperationFailed(f"endpoint {name} failed: {rec.error}", hint=f"`finetui endpoint logs {name}`")
            if not procs.is_alive(rec.pid, rec.pid_start_time):
                self._fail(rec, "the server exited while starting: " + self._tail(name))
            if http_status(rec.host, rec.port, "/ready") == 200:
                self.store.update_endpoint_if(name, ("Creating", "Updating"), state="Succeeded", error=None)
                return self.get(name)
            if time.monotonic() > deadline:
                procs.terminate(rec.pid, rec.pid_start_time, grace=5)
                self._fail(rec, f"the model was not ready within {timeout_s:.0f} s: " + self._tail(name))
            time.sleep(0.1)

    def _fail(self, rec: EndpointRecord, reason: str) -> None:
        self.store.update_endpoint(rec.name, state=EndpointState.FAILED.value, error=reason)
        raise OperationFailed(f"endpoint {rec.name} failed: {reason}", hint=f"`finetui endpoint logs {rec.name}`")

    def _tail(self, name: str, n: int = 3) -> str:
        lines = procs.tail_lines(self.paths.endpoint_dir(name) / "server.log", n)
        return " | ".join(line.strip() for line in lines) or "(server.log is empty)"

    # -- reading -------------------------------------------------------------------
    def _record(self, name: str) -> EndpointRecord:
        """The endpoint's record, for changing it or reaching its server: a damaged one stops here with one line."""
        rec = self._stored(name)
        if isinstance(rec, Damaged):
            raise OperationFailed(f"endpoint {name}: {_damaged(rec)}", hint=f"`finetui endpoint delete {name}` removes it")
        return rec

    def _stored(self, name: str) -> EndpointRecord | Damaged:
        rec = self.store.get_endpoint(check_name("endpoint", name))
        if rec is None:
            raise NotFound(f"no endpoint named {name!r} in workspace {self.paths.root}; `finetui endpoint list` shows them")
        return rec

    def list(self) -> list[Endpoint]:
        return [self._view(r) for r in self.store.list_endpoints()]

    def get(self, name: str) -> Endpoint:
        return self._view(self._stored(name))

    def _view(self, rec: EndpointRecord | Damaged) -> Endpoint:
        if isinstance(rec, Damaged):
            return Endpoint(name=rec.name, model="", state=EndpointState.DAMAGED, error=_damaged(rec))
        fields: dict[str, Any] = {}
        if rec.state.value in _LIVE:
            if not procs.is_alive(rec.pid, rec.pid_start_time):
                fields["state"] = EndpointState.UNHEALTHY
                fields["error"] = f"the server process ({rec.pid}) is not running: {self._tail(rec.name)}"
            elif rec.state is EndpointState.SUCCEEDED and http_status(rec.host, rec.port, "/health") != 200:
                fields["state"] = EndpointState.UNHEALTHY
                fields["error"] = f"the server does not answer {_server_url(rec)}/health"
        try:
            state = json.loads((self.paths.endpoint_dir(rec.name) / "state.json").read_text(encoding="utf-8"))
            fields["last_request_at"] = state.get("last_request_at") or rec.last_request_at
        except (OSError, ValueError):
            pass
        return dataclasses.replace(public(rec, Endpoint), **fields)

    def info(self, name: str) -> dict[str, Any]:
        """The endpoint plus local details (host, port, model folder, log path) for `endpoint show`."""
        rec = self._record(name)
        ep = self._view(rec)
        return {
            "endpoint": ep,
            "host": rec.host,
            "port": rec.port,
            "model_path": rec.model_path,
            "log_path": self._log_path(rec),
            "swagger_uri": _server_url(rec) + "/swagger",
            "warning": rec.warning,
        }

    def keys(self, name: str) -> EndpointKeys:
        self._stored(name)
        try:
            primary, secondary = read_keys(self.paths.endpoint_dir(name) / "keys.json")
        except (OSError, ValueError, KeyError):
            raise NotFound(
                f"the keys of endpoint {name} are missing; `finetui endpoint regenerate-keys {name}` makes new ones"
            ) from None
        return EndpointKeys(primary=primary, secondary=secondary)

    def regenerate_keys(self, name: str, which: str) -> EndpointKeys:
        """Replace one key; the running server accepts the new one (and refuses the old) at once."""
        if which not in ("primary", "secondary"):
            raise InvalidInput(f"key {which!r}: choose primary or secondary")
        self._stored(name)
        path = self.paths.endpoint_dir(name) / "keys.json"
        try:
            primary, secondary = read_keys(path)
        except (OSError, ValueError, KeyError):
            primary, secondary = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        if which == "primary":
            primary = secrets.token_urlsafe(32)
        else:
            secondary = secrets.token_urlsafe(32)
        write_keys(path, primary, secondary)
        return EndpointKeys(primary=primary, secondary=secondary)

    def logs(self, name: str, offset: int = 0, max_bytes: int = DEFAULT_MAX_BYTES) -> LogChunk:
        """The server's log from ``offset``, whole lines; ``complete`` once the server has stopped and all is read."""
        rec = self._stored(name)
        stopped = not (isinstance(rec, EndpointRecord) and procs.is_alive(rec.pid, rec.pid_start_time))
        return read_chunk(self._log_path(rec), offset, max_bytes, ended=stopped)

    # -- using -------------------------------------------------------------------
    def invoke(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to the endpoint's /score with the primary key, as Azure's ``invoke`` does."""
        import httpx

        from ..chat import raise_for_response

        ep = self.get(name)
        if ep.state is not EndpointState.SUCCEEDED:
            raise OperationFailed(
                f"endpoint {name} is {ep.state.value}" + (f": {ep.error}" if ep.error else ""),
                hint=f"`finetui endpoint restart {name}`",
            )
        key = self.keys(name).primary
        assert ep.scoring_uri is not None  # create records it, before the server can succeed
        try:
            resp = httpx.post(
                ep.scoring_uri, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=ep.request_timeout_ms / 1000 + 10
            )
        except httpx.HTTPError as exc:
            raise OperationFailed(f"could not reach {ep.scoring_uri}: {type(exc).__name__}") from None
        raise_for_response(resp, ep.scoring_uri, name)
        reply: dict[str, Any] = resp.json()
        return reply

    # -- lifecycle -------------------------------------------------------------------
    def restart(self, name: str, *, wait: bool = True, ready_timeout_s: float = READY_TIMEOUT_S) -> Endpoint:
        rec = self._record(name)
        if rec.state is EndpointState.DELETING:
            raise Conflict(f"endpoint {name} is being deleted")
        if rec.expires_at and time.time() >= rec.expires_at:
            raise Conflict(
                f"endpoint {name} has {rec.error or 'expired'}; its time to live is over: delete it and create it again"
            )
        self.store.update_endpoint(name, state=EndpointState.UPDATING.value, error=None)
        self._stop_process(rec)
        if port_open(rec.host, rec.port):  # someone else took the port meanwhile
            port = free_port(rec.host)
            base = f"http://{url_host(rec.host)}:{port}"
            self.store.update_endpoint(
                name, port=port, scoring_uri=f"{base}/score", openapi_uri=f"{base}/openapi.json", base_url=f"{base}/v1"
            )
        with open(self._log_path(rec), "a", encoding="utf-8") as fh:
            fh.write(f"--- restart at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n")
        self._spawn(name)
        return self.wait_ready(name, ready_timeout_s) if wait else self.get(name)

    def _log_path(self, rec: EndpointRecord | Damaged) -> str:
        return (isinstance(rec, EndpointRecord) and rec.log_path) or str(self.paths.endpoint_dir(rec.name) / "server.log")

    def _stop_process(self, rec: EndpointRecord | Damaged) -> None:
        if isinstance(rec, Damaged):
            return  # nothing says which process or port was its
        procs.terminate(rec.pid, rec.pid_start_time, grace=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and port_open(rec.host, rec.port, timeout=0.2):
            if not procs.is_alive(rec.pid, rec.pid_start_time):
                break  # the port belongs to someone else now
            time.sleep(0.05)

    def delete(self, name: str) -> None:
        """Stop the server, close its port, remove its keys, folder and record. Safe to run again after an interruption.

        The name is checked and must have a record before anything is touched: the record
        goes last, so an interrupted delete leaves a record that the next delete finishes.
        """
        rec = self.store.get_endpoint(check_name("endpoint", name))
        if rec is None:
            raise NothingToDelete(
                f"no endpoint named {name!r} in workspace {self.paths.root}; nothing to delete (`finetui endpoint list` shows them)"
            )
        folder = self.paths.endpoint_dir(name)
        if isinstance(rec, EndpointRecord):  # a damaged record is not rewritten, only removed
            self.store.update_endpoint(name, state=EndpointState.DELETING.value)
        self._stop_process(rec)
        (folder / "keys.json").unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        self.store.delete_endpoint(name)


def _server_url(rec: EndpointRecord) -> str:
    """http://HOST:PORT, without the /v1 of the OpenAI-style API (the store refuses a record with no base_url)."""
    return (rec.base_url or "").rsplit("/", 1)[0]


def _damaged(rec: Damaged) -> str:
    return f"its record in the workspace database is damaged ({rec.why}); other endpoints are unaffected"
