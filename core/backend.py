"""The Backend protocol and the table of backends (`_BACKENDS`) that picks one by name.

Like mlflow's tracking-store registry chosen by URI scheme: a backend is a
factory registered under a name; the CLI and the app only ever see the
protocol. Tests can register a fake under a new name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from .endpoint_options import AzureEndpointOptions, LocalEndpointOptions
from .errors import BackendUnavailable, Conflict
from .equivalents import AzureTarget
from .evaluate import DeployGate, EvalRequest, EvalRun, JobEvaluation
from .models import (
    CatalogModel,
    Checkpoint,
    ClusterCreated,
    ClusterOptions,
    ComputeTarget,
    DemoResult,
    Endpoint,
    EndpointInfo,
    EndpointKeys,
    FitReport,
    Job,
    JobPlan,
    JobStatus,
    JobStep,
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
    """Every operation the CLI and the app use, one line each.

    Optional operations are declared here like the rest; a backend without one
    implements it by raising ``Unsupported`` (core/errors.py), whose message names
    the backend and what to use instead. The UIs call and show that error; they
    never probe a backend for a method.
    """

    name: str

    # where it keeps things
    def state_folder(self) -> Path | None: ...  # the local workspace holding the command log and prices; None: no local one
    def data_folder(self) -> Path | None: ...  # where the app looks for training files; None: none of its own
    def azure_target(self) -> AzureTarget | None: ...  # the Azure workspace and registry acted on; None: not Azure

    # catalog
    def list_models(self, query: str | None = None) -> list[CatalogModel]: ...
    def get_model(self, ref: str) -> CatalogModel: ...
    def add_model(self, path: str | Path, name: str | None = None) -> CatalogModel: ...  # optional
    def pull_model(self, repo_id: str, progress: ProgressCallback | None = None) -> CatalogModel: ...  # optional

    # compute
    def list_compute(self) -> list[ComputeTarget]: ...
    def check_compute(
        self,
        model: str,
        spec: FineTuneSpec | None = None,
        target: str | None = None,
        component_inputs: dict[str, Any] | None = None,
    ) -> FitReport: ...  # inputs: Azure's, beyond the spec
    def create_compute(self, name: str, options: ClusterOptions) -> ClusterCreated: ...  # optional
    def scale_compute_to_zero(self, name: str) -> None: ...  # optional

    # jobs
    def resolve_spec(self, model: str, user: dict[str, Any] | None = None, source: str | None = None) -> ResolvedSpec: ...
    def submit_job(self, request: JobRequest) -> Job: ...
    def plan_job(self, request: JobRequest) -> JobPlan: ...  # optional
    def list_jobs(self) -> list[Job]: ...
    def get_job(self, name: str) -> Job: ...
    def job_steps(self, name: str) -> tuple[JobStep, ...]: ...  # optional
    def cancel_job(self, name: str) -> Job: ...
    def resume_job(self, name: str) -> Job: ...  # optional
    def extend_job(self, name: str, epochs: float) -> tuple[Job, str]: ...  # optional: the new job, the checkpoint it starts from
    def job_checkpoints(self, name: str) -> list[Checkpoint]: ...  # optional
    def read_log(self, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk: ...
    def job_log_path(self, name: str) -> Path | None: ...  # the log as a local file, or None (read it with read_log)
    def list_log_files(self, name: str, step: str | None = None) -> list[str]: ...  # optional
    def job_metrics(self, name: str) -> list[MetricPoint]: ...

    # evaluations
    def submit_eval(self, request: EvalRequest) -> EvalRun: ...  # optional
    def list_evals(self) -> list[EvalRun]: ...  # optional
    def get_eval(self, name: str) -> EvalRun: ...  # optional
    def eval_rows(self, name: str) -> list[dict[str, Any]]: ...  # optional
    def cancel_eval(self, name: str) -> EvalRun: ...  # optional
    def job_evaluation(self, name: str) -> JobEvaluation: ...  # optional: a job's own evaluation step
    def evaluation_gate(self, model_ref: str) -> DeployGate | None: ...  # None: nothing to say about this model

    # registry
    def register_model(self, job: str, name: str, version: str | None = None, description: str = "") -> RegisteredModel: ...
    def register_checkpoint(
        self, job: str, checkpoint: str, name: str, version: str | None = None, description: str = ""
    ) -> RegisteredModel: ...  # optional
    def list_registered(self, name: str | None = None) -> list[RegisteredModel]: ...

    # endpoints: each backend takes its own options record and refuses the other's
    def create_endpoint(
        self, name: str, model_ref: str, options: LocalEndpointOptions | AzureEndpointOptions | None = None
    ) -> Endpoint: ...
    def plan_endpoint(
        self, name: str, model_ref: str, options: LocalEndpointOptions | AzureEndpointOptions | None = None
    ) -> dict[str, str]: ...  # optional
    def list_endpoints(self) -> list[Endpoint]: ...
    def get_endpoint(self, name: str) -> Endpoint: ...
    def endpoint_info(self, name: str) -> EndpointInfo: ...
    def endpoint_keys(self, name: str) -> EndpointKeys: ...
    def regenerate_endpoint_keys(self, name: str, which: str) -> EndpointKeys: ...
    def endpoint_logs(self, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk: ...
    def invoke_endpoint(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def restart_endpoint(self, name: str) -> Endpoint: ...
    def delete_endpoint(self, name: str) -> None: ...

    # the offline demo
    def build_demo(
        self, progress: ProgressCallback | None = None, *, force: bool = False, only_if_empty: bool = False
    ) -> DemoResult | None: ...  # optional; None: skipped, models exist


class EndpointService(Protocol):
    """What both backends' endpoint services answer under the same names (local servers, Azure deployments)."""

    def keys(self, name: str) -> EndpointKeys: ...
    def regenerate_keys(self, name: str, which: str) -> EndpointKeys: ...
    def logs(self, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk: ...
    def invoke(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def restart(self, name: str) -> Endpoint: ...


class DelegatesEndpoints:
    """The endpoint operations each facade hands to its endpoint service word for word, written once."""

    def _endpoint_service(self) -> EndpointService:
        raise NotImplementedError  # each facade returns its own service (local servers, Azure deployments)

    def endpoint_keys(self, name: str) -> EndpointKeys:
        return self._endpoint_service().keys(name)

    def regenerate_endpoint_keys(self, name: str, which: str) -> EndpointKeys:
        return self._endpoint_service().regenerate_keys(name, which)

    def endpoint_logs(self, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        return self._endpoint_service().logs(name, offset, max_bytes)

    def invoke_endpoint(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._endpoint_service().invoke(name, body)

    def restart_endpoint(self, name: str) -> Endpoint:
        return self._endpoint_service().restart(name)


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
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of: {', '.join(backend_names())}") from None
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
