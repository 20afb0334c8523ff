"""The Backend protocol and the table of backends (`_BACKENDS`) that picks one by name.

Like mlflow's tracking-store registry chosen by URI scheme: a backend is a
factory registered under a name; the CLI and the app only ever see the
protocol. Tests can register a fake under a new name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

from .endpoint_options import AzureEndpointOptions, LocalEndpointOptions
from .errors import BackendUnavailable, Conflict
from .models import (
    CatalogModel,
    ComputeTarget,
    Endpoint,
    EndpointKeys,
    FitReport,
    Job,
    JobStatus,
    LogChunk,
    MetricPoint,
    RegisteredModel,
)
from .spec import FineTuneSpec, ResolvedSpec

ProgressCallback = Callable[[str, float | None], None]  # (message, fraction done or None)


def require_completed(job: Job) -> None:
    """Only a Completed job's output is a model: a failed or running one is refused, naming its status."""
    if job.status is not JobStatus.COMPLETED:
        raise Conflict(f"job {job.name} is {job.status.value}; only a Completed job can be registered")


@dataclass(frozen=True)
class JobRequest:
    model: str  # NAME or NAME:VERSION
    train_file: str
    test_file: str | None = None
    spec: dict[str, Any] | None = None  # user's spec mapping (file and --set merged)
    spec_source: str | None = None
    compute: str | None = None
    experiment: str | None = None
    display_name: str | None = None
    force: bool = False  # submit even when the compute check says it will not fit
    resume_from: str | None = None  # a checkpoint to continue from (`job extend`; local backend)
    extends: str | None = None  # the job this one continues, for its lineage


@runtime_checkable
class Backend(Protocol):
    name: str

    # catalog
    def list_models(self, query: str | None = None) -> list[CatalogModel]: ...
    def get_model(self, ref: str) -> CatalogModel: ...

    # compute
    def list_compute(self) -> list[ComputeTarget]: ...
    def check_compute(self, model: str, spec: FineTuneSpec | None = None, target: str | None = None) -> FitReport: ...

    # jobs
    def resolve_spec(self, model: str, user: dict[str, Any] | None = None, source: str | None = None) -> ResolvedSpec: ...
    def submit_job(self, request: JobRequest) -> Job: ...
    def list_jobs(self) -> list[Job]: ...
    def get_job(self, name: str) -> Job: ...
    def cancel_job(self, name: str) -> Job: ...
    def read_log(self, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk: ...
    def job_metrics(self, name: str) -> list[MetricPoint]: ...

    # registry
    def register_model(self, job: str, name: str, version: str | None = None, description: str = "") -> RegisteredModel: ...
    def list_registered(self, name: str | None = None) -> list[RegisteredModel]: ...

    # endpoints: each backend takes its own options record and refuses the other's
    def create_endpoint(self, name: str, model_ref: str,
                        options: LocalEndpointOptions | AzureEndpointOptions | None = None) -> Endpoint: ...
    def list_endpoints(self) -> list[Endpoint]: ...
    def get_endpoint(self, name: str) -> Endpoint: ...
    def endpoint_keys(self, name: str) -> EndpointKeys: ...
    def delete_endpoint(self, name: str) -> None: ...


def follow_log(backend: Backend, name: str, offset: int = 0, poll: float = 0.25) -> Iterator[str]:
    """Yield a job's log text from ``offset`` until the job ends and the log is read to the end."""
    import time

    while True:
        chunk = backend.read_log(name, offset)
        if chunk.text:
            yield chunk.text
        offset = chunk.next_offset
        if chunk.complete:
            return
        if not chunk.text:
            time.sleep(poll)


# the backends by name (not a model registry): a factory, or "module:attr" imported on first use
_BACKENDS: dict[str, str | Callable[..., Backend]] = {
    "local": "finetui.core.local.backend:LocalBackend",
    "azure": "finetui.core.azure.backend:AzureBackend",
}


def register_backend(name: str, factory: str | Callable[..., Backend]) -> None:
    """Add or replace a backend: a factory, or "module:attr" imported on first use."""
    _BACKENDS[name] = factory


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def get_backend(name: str = "local", **options: Any) -> Backend:
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise BackendUnavailable(
            f"unknown backend {name!r}; choose one of: {', '.join(backend_names())}"
        ) from None
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise BackendUnavailable(
                f"backend {name!r} needs a package that is not installed ({exc.name})",
                hint="pip install 'finetui[local]'" if name == "local" else None,
            ) from None
        factory = getattr(module, attr)
    return factory(**options)
