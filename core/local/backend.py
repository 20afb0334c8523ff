"""The local backend: everything on this machine, state in one workspace directory.

A thin facade: each area (catalog, compute, jobs, registry, endpoints) is its
own service object built on first use, so opening the backend to list jobs
does not load the training or serving stacks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..backend import DelegatesEndpoints, EndpointService, JobRequest, ProgressCallback
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
from ..workspace import WorkspacePaths, resolve_workspace
from .storage_errors import os_storage_error
from .store import Store

# The services import nothing heavy (torch, transformers and datasets load inside the calls that need them),
# so they are built with the backend: one object graph, no per-property lazy imports.
from .catalog import LocalCatalog
from .endpoints import LocalEndpoints
from .evals import LocalEvals
from .jobs import LocalJobs
from .registry import LocalRegistry


class LocalBackend(DelegatesEndpoints):
    name = "local"

    def __init__(self, workspace: str | Path | None = None) -> None:
        root = resolve_workspace(workspace)
        try:
            self.paths = WorkspacePaths(root).ensure()
        except OSError as exc:
            raise os_storage_error(exc, root, "creating the workspace folders in") from None
        self.store = Store(self.paths.db)
        self.catalog = LocalCatalog(self.paths, self.store)
        self.jobs = LocalJobs(self.paths, self.store, self.catalog)
        self.registry = LocalRegistry(self.paths, self.store)
        self.endpoints = LocalEndpoints(self.paths, self.store, self.registry)
        self.evals = LocalEvals(self.paths, self.store, self.catalog, self.endpoints)

    def _endpoint_service(self) -> EndpointService:
        return self.endpoints

    # -- where it keeps things -----------------------------------------------
    def state_folder(self) -> Path | None:
        return self.paths.root

    def data_folder(self) -> Path | None:
        return self.paths.data

    def azure_target(self) -> AzureTarget | None:
        return None

    # -- catalog -------------------------------------------------------------
    def list_models(self, query: str | None = None) -> list[CatalogModel]:
        return self.catalog.list(query)

    def get_model(self, ref: str) -> CatalogModel:
        return self.catalog.get(ref)

    def add_model(self, path: str | Path, name: str | None = None) -> CatalogModel:
        return self.catalog.add_path(path, name=name)

    def pull_model(self, repo_id: str, progress: ProgressCallback | None = None) -> CatalogModel:
        return self.catalog.pull(repo_id, progress=progress)

    # -- compute -------------------------------------------------------------
    def list_compute(self) -> list[ComputeTarget]:
        from .hardware import detect_targets

        return detect_targets()

    def check_compute(
        self,
        model: str,
        spec: FineTuneSpec | None = None,
        target: str | None = None,
        component_inputs: dict[str, Any] | None = None,
    ) -> FitReport:
        """``component_inputs`` are Azure pipeline inputs; a local run has none, so they change nothing here."""
        from ..compute_fit import check_fit, pick_target

        entry = self.catalog.get(model)
        if spec is None:
            spec = self.resolve_spec(model).spec
        return check_fit(entry, spec, pick_target(self.list_compute(), target))

    def create_compute(self, name: str, options: ClusterOptions) -> ClusterCreated:
        raise unsupported(self.name, "create compute clusters", "this machine is the compute; use --backend azure")

    def scale_compute_to_zero(self, name: str) -> None:
        raise unsupported(self.name, "scale compute clusters", "this machine is the compute; use --backend azure")

    # -- jobs ----------------------------------------------------------------
    def resolve_spec(self, model: str, user: dict[str, Any] | None = None, source: str | None = None) -> ResolvedSpec:
        entry = self.catalog.get(model)
        resolved = resolve_spec(entry.model_specific_defaults, user, user_source=source)
        return dataclasses.replace(resolved, context_length=entry.context_length)

    def submit_job(self, request: JobRequest) -> Job:
        return self.jobs.submit(request, self)

    def plan_job(self, request: JobRequest) -> JobPlan:
        raise Unsupported("job submit --dry-run: only --backend azure submits a job description to export")

    def list_jobs(self) -> list[Job]:
        return self.jobs.list()

    def get_job(self, name: str) -> Job:
        return self.jobs.get(name)

    def job_steps(self, name: str) -> tuple[JobStep, ...]:
        raise unsupported(self.name, "list pipeline steps", "a local job is one step; use --backend azure")

    def cancel_job(self, name: str) -> Job:
        return self.jobs.cancel(name)

    def resume_job(self, name: str) -> Job:
        from .resume import resume_job

        return resume_job(self.jobs, name)

    def extend_job(self, name: str, epochs: float) -> tuple[Job, str]:
        from .extend import extend_job

        return extend_job(self.jobs, name, epochs)

    def read_log(self, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        return self.jobs.read_log(name, offset, max_bytes)

    def job_log_path(self, name: str) -> Path:
        return self.jobs.log_path(name)

    def list_log_files(self, name: str, step: str | None = None) -> list[str]:
        raise unsupported(self.name, "list log files", "a local job has one log: `finetui job logs NAME`")

    def job_metrics(self, name: str) -> list[MetricPoint]:
        return self.jobs.metrics(name)

    # -- evaluations -------------------------------------------------------------
    def submit_eval(self, request: EvalRequest) -> EvalRun:
        return self.evals.submit(request)

    def list_evals(self) -> list[EvalRun]:
        return self.evals.list()

    def get_eval(self, name: str) -> EvalRun:
        return self.evals.get(name)

    def eval_rows(self, name: str) -> list[dict[str, Any]]:
        return self.evals.rows(name)

    def cancel_eval(self, name: str) -> EvalRun:
        return self.evals.cancel(name)

    def job_evaluation(self, name: str) -> JobEvaluation:
        raise unsupported(self.name, "read a job's evaluation step", "run one: `finetui eval MODEL --test FILE`")

    def evaluation_gate(self, model_ref: str) -> DeployGate | None:
        return self.evals.gate(model_ref)

    # -- registry --------------------------------------------------------------
    def register_model(self, job: str, name: str, version: str | None = None, description: str = "") -> RegisteredModel:
        from ..names import check_name

        check_name("registered model", name)  # before the job is looked up, so a bad name is the error shown
        return self.registry.register(self.jobs.get(job), name, version=version, description=description)

    def job_checkpoints(self, name: str) -> list[Checkpoint]:
        from .checkpoint_list import list_checkpoints

        return list_checkpoints(self.paths.job_dir(self.jobs.get(name).name))

    def register_checkpoint(
        self, job: str, checkpoint: str, name: str, version: str | None = None, description: str = ""
    ) -> RegisteredModel:
        """Register checkpoint STEP (or ``best``) of a job: its adapter merged into the base, as the final export does."""
        import dataclasses

        from ..models import JobStatus
        from ..names import check_name
        from ..checkpoint_rows import pick
        from .checkpoint_list import export_checkpoint
        from .records import JobRecord

        check_name("registered model", name)
        found = self.jobs.get(job)
        chosen = pick(self.job_checkpoints(found.name), checkpoint, found.name)
        record = self.jobs.record(found.name)
        model_path = record.model_path if isinstance(record, JobRecord) else None
        dest = self.paths.job_dir(found.name) / "outputs" / f"checkpoint-{chosen.step}" / "mlflow_model"
        export_checkpoint(chosen, model_path or "", dest, job=found.name, base_ref=found.model)
        # the registry takes a job's output; a checkpoint of any ended (or running) job stands in as one
        as_output = dataclasses.replace(found, status=JobStatus.COMPLETED, output_path=str(dest))
        return self.registry.register(
            as_output,
            name,
            version=version,
            description=description
            or f"{found.model} fine-tuned by job {found.name}, checkpoint at step {chosen.step}"
            + (" (best)" if chosen.best else ""),
        )

    def list_registered(self, name: str | None = None) -> list[RegisteredModel]:
        return self.registry.list(name)

    # -- endpoints ---------------------------------------------------------------
    def create_endpoint(
        self, name: str, model_ref: str, options: LocalEndpointOptions | AzureEndpointOptions | None = None
    ) -> Endpoint:
        if isinstance(options, AzureEndpointOptions):
            raise InvalidInput(
                "Azure endpoint options (instance type, count, deployment, probes) do not apply to --backend local"
            )
        return self.endpoints.create(name, model_ref, options)

    def plan_endpoint(
        self, name: str, model_ref: str, options: LocalEndpointOptions | AzureEndpointOptions | None = None
    ) -> dict[str, str]:
        raise Unsupported("endpoint create --dry-run: only --backend azure has an endpoint description to export")

    def list_endpoints(self) -> list[Endpoint]:
        return self.endpoints.list()

    def get_endpoint(self, name: str) -> Endpoint:
        return self.endpoints.get(name)

    def endpoint_info(self, name: str) -> EndpointInfo:
        details = self.endpoints.info(name)
        return EndpointInfo(details.pop("endpoint"), details)

    def delete_endpoint(self, name: str) -> None:
        self.endpoints.delete(name)

    # -- the offline demo ----------------------------------------------------------
    def build_demo(
        self, progress: ProgressCallback | None = None, *, force: bool = False, only_if_empty: bool = False
    ) -> DemoResult | None:
        """Build the demo model and data here; ``only_if_empty``: skip a workspace that has models of its own
        (the HF cache's do not count), as the app's first run does."""
        if only_if_empty and self.store.list_models():
            return None
        from .demo import build_demo

        return build_demo(self.paths, self.store, progress, force=force)
