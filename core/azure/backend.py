"""AzureBackend: the Backend protocol over Azure ML, as the tutorial drives it.

A thin facade like LocalBackend: the workspace is resolved at construction
(config.json or options, no network), while the credential, the MLClients and
the SDK itself are built on first use, off whatever thread asked first.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..backend import DelegatesEndpoints, EndpointService, JobRequest, ProgressCallback, require_completed
from ..endpoint_options import AzureEndpointOptions, LocalEndpointOptions
from ..equivalents import AzureTarget
from ..errors import InvalidInput, Unsupported, unsupported
from ..evaluate import DeployGate, EvalRequest, EvalRun, JobEvaluation
from ..models import (
    CatalogModel,
    Checkpoint,
    ClusterCreated,
    ClusterOptions,
    ComputeTarget,
    DemoResult,
    Endpoint,
    EndpointInfo,
    FitReport,
    Job,
    JobPlan,
    JobStep,
    LogChunk,
    MetricPoint,
    RegisteredModel,
)
from ..spec import FineTuneSpec, ResolvedSpec, resolve_spec
from .auth import DeviceCodeCallback
from .client import OUTPUT_LOGGER, AzureClient, route_sdk_logs
from .job_eval import job_gate, read_evaluation
from .workspace import options_from_env, resolve_azure_workspace

if TYPE_CHECKING:  # the services (and the SDK under them) load on first use; only their types are needed here
    from .catalog import AzureCatalog
    from .clusters import AzureClusters
    from .compute import AzureCompute
    from .endpoints import AzureEndpoints
    from .jobs import AzureJobs
    from .registry import AzureRegistry


def _log_device_code(url: str, code: str, expires_on: Any) -> None:
    """With no UI callback, the sign-in code still reaches whatever handler the caller routed logs to."""
    logging.getLogger(OUTPUT_LOGGER).warning("To sign in to Azure, open %s and enter the code %s", url, code)


class AzureBackend(DelegatesEndpoints):
    name = "azure"

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        config_path: str | Path | None = None,
        credential: Any = None,
        transport: Any = None,
        registry_name: str | None = None,
        device_code_callback: DeviceCodeCallback | None = None,
        no_device_code: str | None = None,
        log_handler: logging.Handler | None = None,
        managed_identity_timeout: float = 3.0,
        retry_total: int = 4,
        retry_backoff_factor: float = 0.8,
        **_ignored: Any,  # options meant for other backends (e.g. workspace) are not ours
    ) -> None:
        self.workspace = resolve_azure_workspace(subscription_id, resource_group, workspace_name, config_path)
        self._credential = credential
        self._transport = transport
        self.registry_name = registry_name or options_from_env().get("registry_name") or "azureml"
        self.device_code_callback = device_code_callback or _log_device_code
        self.no_device_code = no_device_code  # why nobody could answer a device-code prompt here, if so
        self._mi_timeout = managed_identity_timeout
        self._retry = (retry_total, retry_backoff_factor)
        route_sdk_logs(log_handler)

    # -- services, built on first use -------------------------------------------------
    @cached_property
    def credential(self) -> Any:
        if self._credential is not None:
            return self._credential
        from .auth import build_credential

        return build_credential(
            self.device_code_callback,
            managed_identity_timeout=self._mi_timeout,
            transport=self._transport,
            no_device_code=self.no_device_code,
        )

    @cached_property
    def client(self) -> AzureClient:
        return AzureClient(
            self.workspace,
            self.credential,
            registry_name=self.registry_name,
            transport=self._transport,
            retry_total=self._retry[0],
            retry_backoff_factor=self._retry[1],
        )

    @cached_property
    def catalog(self) -> AzureCatalog:
        from .catalog import AzureCatalog

        return AzureCatalog(self.client)

    @cached_property
    def compute(self) -> AzureCompute:
        from .compute import AzureCompute

        return AzureCompute(self.client)

    @cached_property
    def jobs(self) -> AzureJobs:
        from .jobs import AzureJobs

        return AzureJobs(self.client, self.catalog, self.compute)

    @cached_property
    def registry(self) -> AzureRegistry:
        from .registry import AzureRegistry

        return AzureRegistry(self.client)

    @cached_property
    def endpoints(self) -> AzureEndpoints:
        from .endpoints import AzureEndpoints

        return AzureEndpoints(self.client, self.catalog)

    def _endpoint_service(self) -> EndpointService:
        return self.endpoints

    # -- sign-in ---------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        """Which credential worked, the tenant, the user and the workspace."""
        from .auth import describe_identity
        from .client import CallContext, map_error, quiet

        try:
            with quiet():
                who = describe_identity(self.credential)
        except Exception as exc:
            raise map_error(exc, CallContext("a token", "Azure", "get")) from None
        ws = self.workspace
        return {
            **who,
            "subscription_id": ws.subscription_id,
            "resource_group": ws.resource_group,
            "workspace_name": ws.workspace_name,
            "workspace_source": ws.source,
            "registry": self.registry_name,
        }

    # -- where it keeps things: in the workspace, nothing on this machine ---------------------
    def state_folder(self) -> Path | None:
        return None

    def data_folder(self) -> Path | None:
        return None

    def azure_target(self) -> AzureTarget | None:
        ws = self.workspace
        return AzureTarget(ws.subscription_id, ws.resource_group, ws.workspace_name, self.registry_name)

    # -- catalog ---------------------------------------------------------------------------
    def list_models(self, query: str | None = None) -> list[CatalogModel]:
        return self.catalog.list(query)

    def get_model(self, ref: str) -> CatalogModel:
        return self.catalog.get(ref)

    def add_model(self, path: str | Path, name: str | None = None) -> CatalogModel:
        raise unsupported(self.name, "add models this way", "use --backend local")

    def pull_model(self, repo_id: str, progress: ProgressCallback | None = None) -> CatalogModel:
        raise unsupported(self.name, "add models this way", "use --backend local")

    def model_versions(self, name: str) -> list[str]:
        return self.catalog.versions(name)

    # -- compute ---------------------------------------------------------------------------
    def list_compute(self) -> list[ComputeTarget]:
        return self.compute.list()

    def get_compute(self, name: str) -> ComputeTarget:
        return self.compute.get(name)

    @cached_property
    def clusters(self) -> AzureClusters:
        from .clusters import AzureClusters

        return AzureClusters(self.client, self.compute)

    def create_compute(self, name: str, options: ClusterOptions) -> ClusterCreated:
        return ClusterCreated(*self.clusters.create(name, options))

    def scale_compute_to_zero(self, name: str) -> None:
        self.compute.scale_to_zero(name)

    def check_compute(
        self,
        model: str,
        spec: FineTuneSpec | None = None,
        target: str | None = None,
        component_inputs: dict[str, Any] | None = None,
    ) -> FitReport:
        """The tutorial's checks and the memory estimate; ``component_inputs`` are pipeline inputs outside
        FineTuneSpec that change it (``precision``)."""

        if not target:
            gpu = sorted(t.name for t in self.compute.list() if t.gpus_per_node)
            if not gpu:
                raise InvalidInput(
                    f"no GPU cluster in {self.workspace.describe()}: name one with --target, or create one "
                    "(`finetui azure compute-create NAME --size Standard_NC24ads_A100_v4`)"
                )
            target = gpu[0]
        entry = self.catalog.get(model)
        if spec is None:
            spec = resolve_spec(entry.model_specific_defaults).spec
        return self.compute.check(entry, spec, target, component_inputs)[0]

    # -- jobs --------------------------------------------------------------------------------
    def resolve_spec(self, model: str, user: dict[str, Any] | None = None, source: str | None = None) -> ResolvedSpec:
        """FineTuneSpec with the model's defaults and the user's keys; the user's other pipeline inputs,
        checked against the component's own spec, ride along in ``passthrough``."""
        entry = self.catalog.get(model)
        ours, theirs = self.jobs.split_user(user, source)
        resolved = resolve_spec(entry.model_specific_defaults, ours, user_source=source)
        return dataclasses.replace(resolved, passthrough={**resolved.passthrough, **theirs})

    def submit_job(self, request: JobRequest) -> Job:
        return self.jobs.submit(request)

    def plan_job(self, request: JobRequest) -> JobPlan:
        """What ``submit_job`` would send, checked the same way; nothing uploaded or started."""
        self.resolve_spec(request.model, request.spec, request.spec_source)  # the spec's errors first, as submit's
        return self.jobs.plan(request)

    def list_jobs(self) -> list[Job]:
        return self.jobs.list()

    def get_job(self, name: str) -> Job:
        return self.jobs.get(name)

    def job_steps(self, name: str) -> tuple[JobStep, ...]:
        return self.jobs.steps(name)

    def cancel_job(self, name: str) -> Job:
        return self.jobs.cancel(name)

    def resume_job(self, name: str) -> Job:
        raise unsupported(self.name, "resume jobs yet", "use --backend local")

    def extend_job(self, name: str, epochs: float) -> tuple[Job, str]:
        raise unsupported(self.name, "extend jobs yet", "use --backend local")

    def job_checkpoints(self, name: str) -> list[Checkpoint]:
        return self.jobs.checkpoints(name)

    def list_log_files(self, name: str, step: str | None = None) -> list[str]:
        return self.jobs.logs.list_files(name, step)

    def read_log(
        self, name: str, offset: int = 0, max_bytes: int = 1 << 20, step: str | None = None, file: str | None = None
    ) -> LogChunk:
        return self.jobs.logs.read(name, offset, max_bytes, step=step, file=file)

    def job_log_path(self, name: str) -> None:
        return None  # run history keeps the log; read it with read_log

    def job_metrics(self, name: str) -> list[MetricPoint]:
        return self.jobs.metrics(name)

    # -- evaluations: the pipeline's own step, no runs of finetui's -------------------------------
    def submit_eval(self, request: EvalRequest) -> EvalRun:
        raise self._no_evals()

    def list_evals(self) -> list[EvalRun]:
        raise self._no_evals()

    def get_eval(self, name: str) -> EvalRun:
        raise self._no_evals()

    def eval_rows(self, name: str) -> list[dict[str, Any]]:
        raise self._no_evals()

    def cancel_eval(self, name: str) -> EvalRun:
        raise self._no_evals()

    def _no_evals(self) -> Unsupported:
        return unsupported(self.name, "run evaluations yet", "use --backend local")

    def job_evaluation(self, name: str) -> JobEvaluation:
        """The pipeline's model_evaluation step: its metrics, beside the job's last training metrics."""
        return read_evaluation(self.jobs, self.jobs.metrics_reader(), name)

    def evaluation_gate(self, model_ref: str) -> DeployGate | None:
        """For ``endpoint create``: the evaluation step of the job a registered model came from."""
        return job_gate(self.registry.get(model_ref), self.job_evaluation)

    # -- registry --------------------------------------------------------------------------------
    def register_model(self, job: str, name: str, version: str | None = None, description: str = "") -> RegisteredModel:
        found = self.jobs.get(job)  # a NotFound here names the job, not a missing output
        require_completed(found)
        return self.registry.register_job_output(job, name, version, description, base_model=found.model or None)

    def register_checkpoint(
        self, job: str, checkpoint: str, name: str, version: str | None = None, description: str = ""
    ) -> RegisteredModel:
        from ..errors import quote
        from ..names import check_name

        check_name("job", job)
        check_name("registered model", name)
        raise unsupported(
            self.name,
            f"register checkpoint {quote(checkpoint)} of job {job}: on Azure a checkpoint is a Trainer folder, and the pipeline "
            "converts only its final (best) model to the MLflow model a deployment needs",
            f"register that one with `finetui --backend azure model register --job {job} --name {name}`",
        )

    def register_local_model(
        self, path: str | Path, name: str, version: str | None = None, description: str = "", base_model: str | None = None
    ) -> RegisteredModel:
        return self.registry.register_local(path, name, version, description, base_model)

    def get_registered(self, ref: str) -> RegisteredModel:
        return self.registry.get(ref)

    def list_registered(self, name: str | None = None) -> list[RegisteredModel]:
        return self.registry.list(name)

    # -- endpoints ---------------------------------------------------------------------------------
    def create_endpoint(
        self,
        name: str,
        model_ref: str,
        options: AzureEndpointOptions | LocalEndpointOptions | None = None,
        *,
        progress: Callable[[str, float | None], None] | None = None,
    ) -> Endpoint:
        if isinstance(options, LocalEndpointOptions):
            raise InvalidInput("local endpoint options (host, port, idle timeout) do not apply to --backend azure")
        return self.endpoints.create(name, model_ref, options, progress=progress)

    def plan_endpoint(
        self, name: str, model_ref: str, options: AzureEndpointOptions | LocalEndpointOptions | None = None
    ) -> dict[str, str]:
        """The endpoint and deployment ``create_endpoint`` would send, as YAML for `az ml online-... create --file`."""
        from .export import endpoint_yaml

        if isinstance(options, LocalEndpointOptions):
            raise InvalidInput("local endpoint options (host, port, idle timeout) do not apply to --backend azure")
        _, endpoint, deployment = self.endpoints.build(name, model_ref, options or AzureEndpointOptions())
        return endpoint_yaml(endpoint, deployment)

    def set_traffic(self, name: str, deployment_name: str = "demo") -> Endpoint:
        return self.endpoints.set_traffic(name, deployment_name)

    def list_endpoints(self) -> list[Endpoint]:
        return self.endpoints.list()

    def get_endpoint(self, name: str) -> Endpoint:
        return self.endpoints.get(name)

    def endpoint_info(self, name: str) -> EndpointInfo:
        return EndpointInfo(self.endpoints.get(name))

    def delete_endpoint(self, name: str, *, wait: bool = True) -> None:
        self.endpoints.delete(name, wait=wait)

    # -- the offline demo ----------------------------------------------------------------------------
    def build_demo(
        self, progress: ProgressCallback | None = None, *, force: bool = False, only_if_empty: bool = False
    ) -> DemoResult | None:
        raise Unsupported("the demo is built in a local workspace; run it with --backend local")
