"""The endpoint server process: ``python -m finetui.core.local.serve --workspace WS --endpoint NAME``.

Started detached by the endpoint manager, it reads its settings from the
endpoint's record, opens the socket first (so /health answers at once),
loads the model in a thread (/ready says 503 until then), and records
Succeeded or Failed itself, so an endpoint created without waiting still
reaches a final state. It writes ``state.json`` (last request time) every
few seconds rather than touching SQLite per request, and stops itself,
recording Stopped, after ``idle_timeout_s`` without requests (counted from
when the model is ready: a slow load is not idleness).

SIGTERM and SIGINT drain rather than cut: new requests get 503, running
answers have ``DRAIN_GRACE_S`` to finish (less than the 10 s the endpoint
manager waits before SIGKILL), the rest end with an error event, and then
the cleanup runs (state.json says stopped, "server stopped" in the log).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import logging.handlers
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import uvicorn

    from ...workspace import WorkspacePaths
    from ..records import EndpointRecord
    from ..store import Store

log = logging.getLogger("finetui.serve")
STATE_EVERY_S = 2.0
DRAIN_GRACE_S = 5.0
REQUEST_LOG_BYTES = 1 << 20
REQUEST_LOG_BACKUPS = 2
# Tests only: the model load waits until this file exists (a model that loads slowly, on demand).
HOLD_LOAD_ENV = "FINETUI_TEST_HOLD_LOAD_UNTIL"


def write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetui.core.local.serve")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args(argv)
    # a hang-up of the terminal that started us must not stop the endpoint
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("transformers", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from ...workspace import WorkspacePaths, resolve_workspace
    from ..records import EndpointRecord
    from ..store import Store

    paths = WorkspacePaths(resolve_workspace(args.workspace))
    store = Store(paths.db)
    record = store.get_endpoint(args.endpoint)
    if not isinstance(record, EndpointRecord):
        log.error("no readable endpoint named %s in %s", args.endpoint, paths.root)
        return 2
    return asyncio.run(serve(paths, store, record))


def log_requests_to(path: Path) -> None:
    """One compact line per request in a size-capped, rotated file beside the server log."""
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=REQUEST_LOG_BYTES, backupCount=REQUEST_LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    requests = logging.getLogger("finetui.serve.requests")
    requests.addHandler(handler)
    requests.setLevel(logging.INFO)
    requests.propagate = False


def quiet_server_class() -> type[uvicorn.Server]:
    """uvicorn's Server without its signal handling: it re-raises SIGTERM after serving, which kills the
    process before our cleanup; we install our own handlers and drain instead."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # uvicorn >= 0.29.1
            yield

        def install_signal_handlers(self) -> None:  # older uvicorn
            pass

    return Server


async def serve(paths: WorkspacePaths, store: Store, record: EndpointRecord) -> int:
    import uvicorn

    from .app import DEFAULT_MAX_QUEUE, DEFAULT_READ_TIMEOUT_S, Activity, build_app
    from .auth import KeyRing
    from .engine import Engine
    from .limits import timed_h11
    from .prom import Metrics

    name = record.name
    folder = paths.endpoint_dir(name)
    log_requests_to(folder / "requests.log")
    metrics, activity = Metrics(), Activity()
    assert record.model_path is not None  # create resolves the model folder before it records the endpoint
    engine = Engine(record.model_path, metrics=metrics)
    read_timeout_s = float(record.read_timeout_s or DEFAULT_READ_TIMEOUT_S)
    app = build_app(
        engine,
        KeyRing(folder / "keys.json"),
        name=name,
        model=record.model,
        request_timeout_ms=record.request_timeout_ms or 90000,
        metrics=metrics,
        activity=activity,
        max_queue=record.max_queue if record.max_queue is not None else DEFAULT_MAX_QUEUE,
        read_timeout_s=read_timeout_s,
    )
    config = uvicorn.Config(
        app,
        host=record.host,
        port=record.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="off",
        http=timed_h11(read_timeout_s),
        timeout_keep_alive=int(min(read_timeout_s, 5)) or 1,
    )
    server = quiet_server_class()(config)
    outcome = {"code": 0}

    def snapshot(engine_state: str) -> None:
        write_state(
            folder / "state.json",
            {
                "pid": os.getpid(),
                "started_at": activity.started_at,
                "last_request_at": activity.last_request_at,
                "engine": engine_state,
            },
        )

    async def drain(signame: str) -> None:
        log.info("%s: stopping; running answers have %g s to finish", signame, DRAIN_GRACE_S)
        activity.draining = True
        snapshot("stopping")
        deadline = time.monotonic() + DRAIN_GRACE_S
        while activity.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if activity.in_flight:
            log.info("ending %d unfinished answers", activity.in_flight)
            engine.abort_all(503, "the endpoint is stopping; the answer was cut short")
            deadline = time.monotonic() + 2
            while activity.in_flight and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        server.should_exit = True

    draining: list[asyncio.Task] = []

    def on_signal(signame: str) -> None:
        if draining:  # a second signal while draining: stop now
            server.force_exit = server.should_exit = True
            return
        draining.append(asyncio.create_task(drain(signame)))

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)

    async def load() -> None:
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.01)
        log.info("listening on http://%s:%s; loading %s", record.host, record.port, record.model_path)
        t0 = time.monotonic()
        hold = os.environ.get(HOLD_LOAD_ENV)
        while hold and not os.path.exists(hold):
            await asyncio.sleep(0.05)
        try:
            await asyncio.to_thread(engine.load)
        except Exception:
            store.update_endpoint_if(
                name, ("Creating", "Updating", "Succeeded"), state="Failed", error=f"model failed to load: {engine.error}"
            )
            outcome["code"] = 1
            server.should_exit = True
            return
        activity.ready_at = time.time()
        log.info("model loaded in %.1f s; ready", time.monotonic() - t0)
        store.update_endpoint_if(name, ("Creating", "Updating"), state="Succeeded", error=None)

    async def keep_state() -> None:
        written = None
        while True:
            now = (activity.last_request_at, engine.state)
            if now != written and not activity.draining:
                snapshot(engine.state)
                written = now
            await asyncio.sleep(STATE_EVERY_S)

    async def stop_when_idle(limit: float) -> None:
        while not server.should_exit:
            await asyncio.sleep(min(1.0, max(limit / 4, 0.1)))
            if activity.idle_since is None or activity.draining:
                continue  # still loading (or stopping): not idle
            idle = time.time() - activity.idle_since
            if activity.in_flight == 0 and idle >= limit:
                log.info("no requests for %.0f s (idle timeout); stopping", idle)
                store.update_endpoint_if(
                    name,
                    ("Succeeded", "Creating", "Updating"),
                    state="Stopped",
                    error=f"stopped after {limit:g} s without requests (idle timeout)",
                    stopped_at=time.time(),
                )
                server.should_exit = True

    async def stop_at_expiry(expires_at: float, ttl_s: float) -> None:
        from ...ttl import expired_reason

        while not server.should_exit and time.time() < expires_at:
            await asyncio.sleep(min(1.0, max(expires_at - time.time(), 0.01)))
        if server.should_exit:
            return
        log.info("time to live of %.0f s is over; stopping", ttl_s)
        store.update_endpoint_if(
            name,
            ("Succeeded", "Creating", "Updating", "Unhealthy"),
            state="Stopped",
            error=expired_reason(ttl_s),
            stopped_at=time.time(),
        )
        server.should_exit = True

    tasks = [asyncio.create_task(load()), asyncio.create_task(keep_state())]
    if record.expires_at:
        tasks.append(asyncio.create_task(stop_at_expiry(record.expires_at, float(record.ttl_s or 0))))
    if record.idle_timeout_s:
        tasks.append(asyncio.create_task(stop_when_idle(record.idle_timeout_s)))
    try:
        await server.serve()
    finally:
        for t in tasks + draining:
            t.cancel()
        engine.close()
        snapshot("stopped")
    if draining:  # stopped from outside (not by restart or delete, which own the record then)
        store.update_endpoint_if(
            name, ("Succeeded", "Creating"), state="Stopped", error="stopped by a signal", stopped_at=time.time()
        )
    if not server.started and outcome["code"] == 0:
        outcome["code"] = 1  # the socket could not be opened (uvicorn logged why)
    log.info("server stopped")
    return outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
