"""Managed online endpoints: create, deploy, route traffic, keys, invoke, delete.

The tutorial's section 7-9: an endpoint with key auth, one deployment
("demo") of the registered model with a 600 s liveness delay and a request
timeout, then 100% of traffic to it. Each step is a long-running operation;
``progress`` hears about each, and ``wait=False`` returns once the deployment
has been started (``set_traffic`` finishes the job later).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any, Callable

from ..endpoint_options import AzureEndpointOptions
from ..errors import FinetuiError, InvalidInput, OperationFailed
from ..models import Endpoint, EndpointKeys, EndpointState, LogChunk
from .catalog import parse_list_tag, parse_ref
from .client import AzureClient, quiet

Progress = Callable[[str, float | None], None]
_JOB_OUTPUT = re.compile(r"^azureml://jobs/([^/]+)/outputs/")
TAG = "finetui."
_STATE = {s.value.lower(): s for s in EndpointState}
_STATE["canceled"] = EndpointState.FAILED


def map_state(raw: Any) -> EndpointState:
    return _STATE.get(str(getattr(raw, "value", raw) or "").lower(), EndpointState.UPDATING)


def parse_score(raw: Any) -> dict[str, Any]:
    """The /score answer as ``{"output": text}``: both ``{"output": ...}`` and ``[{"0": ...}]`` shapes."""
    value = raw
    if isinstance(raw, (str, bytes)):
        try:
            value = json.loads(raw)
        except ValueError:
            return {"output": raw.decode() if isinstance(raw, bytes) else raw}
        if isinstance(value, str):  # the service sometimes JSON-encodes its JSON answer twice
            try:
                value = json.loads(value)
            except ValueError:
                return {"output": value}
    if isinstance(value, dict) and "output" in value:
        return {"output": value["output"] if isinstance(value["output"], str) else json.dumps(value["output"])}
    if isinstance(value, list) and value and isinstance(value[0], dict) and "0" in value[0]:
        return {"output": str(value[0]["0"])}
    if isinstance(value, list) and value and isinstance(value[0], str):
        return {"output": value[0]}
    return {"output": value if isinstance(value, str) else json.dumps(value)}


def _created_at(ep: Any) -> Any:
    """The SDK keeps an online endpoint's creation time only in ``properties["createdAt"]``, as text."""
    from datetime import datetime

    text = (getattr(ep, "properties", None) or {}).get("createdAt")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z") if text else None
    except (TypeError, ValueError):
        return None


def _wait(poller: Any, progress: Progress | None, message: str, fraction: float | None) -> Any:
    """Block on an LRO, telling ``progress`` its state now and then."""
    if progress is None:
        return poller.result()
    progress(message, fraction)
    while not poller.done():
        poller.wait(timeout=15)
        if not poller.done():
            progress(f"{message} ({poller.status()})", fraction)
    return poller.result()


class AzureEndpoints:
    def __init__(self, client: AzureClient, catalog: Any) -> None:
        self.client = client
        self.catalog = catalog

    def _to_endpoint(self, ep: Any) -> Endpoint:
        tags = dict(getattr(ep, "tags", None) or {})
        timeout = tags.get(f"{TAG}request_timeout_ms")
        created = getattr(getattr(ep, "creation_context", None), "created_at", None) or _created_at(ep)
        return Endpoint(
            name=str(ep.name),
            model=tags.get(f"{TAG}model", ""),
            state=map_state(getattr(ep, "provisioning_state", None)),
            scoring_uri=getattr(ep, "scoring_uri", None),
            openapi_uri=getattr(ep, "openapi_uri", None),
            auth_mode=str(getattr(ep, "auth_mode", None) or "key"),
            created_at=created.timestamp() if hasattr(created, "timestamp") else None,
            request_timeout_ms=int(timeout) if timeout and str(timeout).isdigit() else 90000,
            backend="azure",
            instance_type=tags.get(f"{TAG}instance_type"),
        )

    def foundation_of(self, registered: Any) -> Any | None:
        """The registry model a registered model was fine-tuned from, through its lineage: finetui's tag,
        else the job whose output it is (``azureml://jobs/<job>/outputs/...``) and that job's
        ``mlflow_model_path`` input. None where the lineage ends (a model uploaded by hand)."""
        base = (getattr(registered, "tags", None) or {}).get(f"{TAG}base_model")
        if not base:
            job = _JOB_OUTPUT.match(str(getattr(registered, "path", "") or ""))
            base = self._job_base_model(job.group(1)) if job else None
        if not base:
            return None
        try:
            return self.catalog.get_sdk_model(base)
        except FinetuiError:  # the allow list is advice; an unreachable registry must not block a deploy
            return None

    def _job_base_model(self, job_name: str) -> str | None:
        ws = self.client.ws
        try:
            job = self.client.call(lambda: ws.jobs.get(job_name), self.client.ws_ctx(f"job {job_name}"))
        except FinetuiError:
            return None
        model_id = (getattr(job, "tags", None) or {}).get(f"{TAG}model_id")
        for node in (getattr(job, "jobs", None) or {}).values():
            given = (getattr(node, "inputs", None) or {}).get("mlflow_model_path")
            value = getattr(given, "path", None) or getattr(getattr(given, "_data", None), "path", None) or given
            if isinstance(value, str) and value.startswith("azureml://registries/"):
                model_id = model_id or value
        return model_id

    def inference_allow_list(self, registered: Any) -> tuple[str | None, list[str] | None]:
        """The foundation model's name and ``inference_compute_allow_list`` (None: no list to check)."""
        foundation = self.foundation_of(registered)
        if foundation is None:
            return None, None
        allow, _ = parse_list_tag(dict(foundation.tags or {}), "inference_compute_allow_list")
        return str(foundation.name), allow

    def _registered(self, model_ref: str) -> Any:
        ws = self.client.ws
        model_name, version = parse_ref(model_ref)
        mctx = self.client.ws_ctx(f"registered model {model_ref}")
        if version:
            return self.client.call(lambda: ws.models.get(model_name, version=version), mctx)
        return self.client.call(lambda: ws.models.get(model_name, label="latest"), mctx)

    def build(self, name: str, model_ref: str, options: AzureEndpointOptions) -> tuple[Any, Any, Any]:
        """The tutorial's ManagedOnlineEndpoint and ManagedOnlineDeployment, checked, not yet sent."""
        with quiet():
            from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint, OnlineRequestSettings, ProbeSettings

        registered = self._registered(model_ref)
        if options.check_allow_list:
            base, allow = self.inference_allow_list(registered)
            if allow is not None and options.instance_type.lower() not in [a.lower() for a in allow]:
                raise InvalidInput(
                    f"instance type {options.instance_type} is not in the model's "
                    f"inference_compute_allow_list: choose one of {', '.join(allow)} "
                    f"(the list of {base}, which {registered.name} was fine-tuned from)"
                )
        endpoint = ManagedOnlineEndpoint(
            name=name,
            description=f"Online endpoint for {registered.name}, fine tuned model for ultrachat-200k-chat-completion",
            auth_mode="key",
            tags={
                f"{TAG}model": f"{registered.name}:{registered.version}",
                f"{TAG}request_timeout_ms": str(options.request_timeout_ms),
                f"{TAG}deployment": options.deployment_name,
                f"{TAG}instance_type": options.instance_type,
            },
        )
        readiness = (
            ProbeSettings(initial_delay=options.readiness_initial_delay_s)
            if options.readiness_initial_delay_s is not None
            else None
        )
        deployment = ManagedOnlineDeployment(
            name=options.deployment_name,
            endpoint_name=name,
            model=registered.id,
            instance_type=options.instance_type,
            instance_count=options.instance_count,
            liveness_probe=ProbeSettings(initial_delay=options.liveness_initial_delay_s),
            readiness_probe=readiness,
            request_settings=OnlineRequestSettings(request_timeout_ms=options.request_timeout_ms),
        )
        return registered, endpoint, deployment

    def create(
        self, name: str, model_ref: str, options: AzureEndpointOptions | None = None, *, progress: Progress | None = None
    ) -> Endpoint:
        options = options or AzureEndpointOptions()
        registered, endpoint, deployment = self.build(name, model_ref, options)
        ws = self.client.ws
        ectx = self.client.ws_ctx(f"endpoint {name}", "create")
        poller = self.client.call(lambda: ws.online_endpoints.begin_create_or_update(endpoint), ectx)
        self.client.call(lambda: _wait(poller, progress, f"creating endpoint {name}", 0.0), ectx)

        dep = options.deployment_name
        dctx = self.client.ws_ctx(f"deployment {dep} of endpoint {name}", "create", sku=options.instance_type)
        dpoller = self.client.call(lambda: ws.online_deployments.begin_create_or_update(deployment), dctx)
        if not options.wait:
            if progress:
                progress(f"deployment {dep} started; route traffic once it is ready", None)
            return self.get(name)
        self.client.call(lambda: _wait(dpoller, progress, f"deploying {registered.name} to {options.instance_type}", 0.2), dctx)
        return self.set_traffic(name, dep, progress=progress)

    def set_traffic(self, name: str, deployment_name: str = "demo", progress: Progress | None = None) -> Endpoint:
        ws = self.client.ws
        ctx = self.client.ws_ctx(f"endpoint {name}", "update")
        endpoint = self.client.call(lambda: ws.online_endpoints.get(name), ctx)
        endpoint.traffic = {deployment_name: 100}
        poller = self.client.call(lambda: ws.online_endpoints.begin_create_or_update(endpoint), ctx)
        self.client.call(lambda: _wait(poller, progress, f"routing 100% of traffic to {deployment_name}", 0.9), ctx)
        if progress:
            progress(f"endpoint {name} ready", 1.0)
        return self.get(name)

    def get(self, name: str) -> Endpoint:
        ws = self.client.ws
        return self._to_endpoint(self.client.call(lambda: ws.online_endpoints.get(name), self.client.ws_ctx(f"endpoint {name}")))

    def list(self) -> list[Endpoint]:
        ws = self.client.ws
        found = self.client.call(lambda: list(ws.online_endpoints.list()), self.client.ws_ctx("endpoints"))
        return [self._to_endpoint(e) for e in found]

    def keys(self, name: str) -> EndpointKeys:
        ws = self.client.ws
        keys = self.client.call(lambda: ws.online_endpoints.get_keys(name), self.client.ws_ctx(f"keys of endpoint {name}"))
        primary, secondary = getattr(keys, "primary_key", None), getattr(keys, "secondary_key", None)
        if not primary:
            raise OperationFailed(f"endpoint {name} has no keys: it does not use key auth")
        return EndpointKeys(primary=primary, secondary=secondary or "")

    def regenerate_keys(self, name: str, which: str) -> EndpointKeys:
        if which not in ("primary", "secondary"):
            raise InvalidInput(f"key {which!r}: choose primary or secondary")
        ws = self.client.ws
        ctx = self.client.ws_ctx(f"keys of endpoint {name}", "update")
        poller = self.client.call(lambda: ws.online_endpoints.begin_regenerate_keys(name=name, key_type=which), ctx)
        self.client.call(poller.result, ctx)
        return self.keys(name)

    def logs(
        self, name: str, offset: int = 0, max_bytes: int = 1 << 20, deployment_name: str | None = None, lines: int = 2000
    ) -> LogChunk:
        """The deployment container's log (its last ``lines`` lines, as the service keeps them), from ``offset``."""
        ws = self.client.ws
        deployment = deployment_name or self._deployment_of(name)
        text = (
            self.client.call(
                lambda: ws.online_deployments.get_logs(name=deployment, endpoint_name=name, lines=lines),
                self.client.ws_ctx(f"logs of deployment {deployment} of endpoint {name}"),
            )
            or ""
        )
        data = text.encode("utf-8")[offset : offset + max_bytes]
        return LogChunk(data.decode("utf-8", "replace"), offset, offset + len(data), True)

    def _deployment_of(self, name: str) -> str:
        ws = self.client.ws
        endpoint = self.client.call(lambda: ws.online_endpoints.get(name), self.client.ws_ctx(f"endpoint {name}"))
        tags: dict[str, str] = dict(getattr(endpoint, "tags", None) or {})
        traffic: dict[str, int] = dict(getattr(endpoint, "traffic", None) or {})  # deployment -> percent
        return tags.get(f"{TAG}deployment") or max(traffic, key=traffic.__getitem__, default="demo")

    def restart(self, name: str, **_: Any) -> Endpoint:
        raise InvalidInput(
            f"endpoint {name}: Azure managed endpoints restart on their own; to start afresh, "
            "delete the endpoint and create it again"
        )

    def invoke(self, name: str, body: dict[str, Any], deployment_name: str | None = None) -> dict[str, Any]:
        ws = self.client.ws
        fd, path = tempfile.mkstemp(prefix="finetui-score-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)  # a prompt may be private
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(body, f)
            raw = self.client.call(
                lambda: ws.online_endpoints.invoke(endpoint_name=name, deployment_name=deployment_name, request_file=path),
                self.client.ws_ctx(f"endpoint {name}", "invoke"),
            )
        finally:
            os.unlink(path)
        return parse_score(raw)

    def delete(self, name: str, *, wait: bool = True, progress: Progress | None = None) -> None:
        ws = self.client.ws
        ctx = self.client.ws_ctx(f"endpoint {name}", "delete")
        poller = self.client.call(lambda: ws.online_endpoints.begin_delete(name=name), ctx)
        if wait:
            self.client.call(lambda: _wait(poller, progress, f"deleting endpoint {name}", None), ctx)
