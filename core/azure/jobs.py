"""Fine-tuning jobs: the registry's ``chat_completion_pipeline``, its steps, failures and metrics.

The job carries finetui's own record in its tags (model, data files, spec), so
``get_job`` and ``list_jobs`` can show what a job was started with. Logs are
in logs.py.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import JobRequest
from ..data.submit_check import require_valid_data
from ..errors import DoesNotFit, FinetuiError, InvalidInput
from ..models import Checkpoint, Job, JobPlan, JobStatus, JobStep, MetricPoint
from ..spec import LOCAL_ONLY_KEYS, SPEC_KEYS, ResolvedSpec, resolve_spec
from .client import OUTPUT_LOGGER, AzureClient, first_line, quiet
from .logs import AzureLogs, pick_log_file
from .pipeline import chosen_parameters, split_user
from .runs import AzureRuns, map_status, to_step, to_timestamp

if TYPE_CHECKING:  # the SDK and the sibling services load on first use
    from azure.ai.ml.entities import PipelineJob

    from .catalog import AzureCatalog
    from .checkpoints import AzureCheckpoints
    from .compute import AzureCompute
    from .metrics import AzureMetrics

log = logging.getLogger(OUTPUT_LOGGER)

PIPELINE_COMPONENT = "chat_completion_pipeline"
TAG = "finetui."


class AzureJobs:
    def __init__(self, client: AzureClient, catalog: AzureCatalog, compute: AzureCompute) -> None:
        self.client = client
        self.catalog = catalog
        self.compute = compute
        self._metrics: AzureMetrics | None = None
        self._checkpoints: AzureCheckpoints | None = None
        self._component: Any = None
        self.runs = AzureRuns(client)
        self.logs = AzureLogs(client, self.runs)

    # -- submit --------------------------------------------------------------------------
    def submit(self, request: JobRequest, *, gpus_per_node: int | None = None) -> Job:
        job, experiment, plan, resolved = self._prepare(request, gpus_per_node)
        ws = self.client.ws
        created = self.client.call(
            lambda: ws.jobs.create_or_update(job, experiment_name=experiment),
            self.client.ws_ctx(f"job {plan.display_name}", "submit"),
        )
        return dataclasses.replace(self.to_job(created), notes=resolved.notes())

    def plan(self, request: JobRequest, *, gpus_per_node: int | None = None) -> JobPlan:
        """The job ``submit`` would send, checked the same way, without uploading or starting anything."""
        job, _, plan, _ = self._prepare(request, gpus_per_node)
        from .export import job_python, job_yaml

        return dataclasses.replace(plan, yaml=job_yaml(job, plan), python=job_python(plan, self.client.workspace))

    def component(self) -> Any:
        """The registry's chat_completion_pipeline, latest version (one call per process)."""
        if self._component is None:
            registry = self.client.azureml_registry
            self._component = self.client.call(
                lambda: registry.components.get(name=PIPELINE_COMPONENT, label="latest"),
                self.client.reg_ctx(f"component {PIPELINE_COMPONENT}"),
            )
        return self._component

    def split_user(self, user: dict[str, Any] | None, source: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The user's keys as (FineTuneSpec's, the component's other inputs, checked against its spec)."""
        if not user or all(k in SPEC_KEYS and k not in LOCAL_ONLY_KEYS for k in user):
            return dict(user or {}), {}  # nothing the component must be asked about
        return split_user(user, self.component().inputs or {}, source)

    def _prepare(self, request: JobRequest, gpus_per_node: int | None) -> tuple[PipelineJob, str, JobPlan, ResolvedSpec]:
        with quiet():  # the SDK's first import warns about marshmallow; none of that may reach the screen
            from azure.ai.ml import Input
            from azure.ai.ml.dsl import pipeline

        if not request.compute:
            raise InvalidInput("an Azure ML job needs a compute cluster: pass --compute NAME (see `finetui compute list`)")
        _require_data(request.train_file, "train")
        if request.test_file:
            _require_data(request.test_file, "test")
        sdk_model = self.catalog.get_sdk_model(request.model)
        from .catalog import to_catalog_model

        model = to_catalog_model(sdk_model)
        component = self.component()
        spec_user, component_user = self.split_user(request.spec, request.spec_source)
        resolved = resolve_spec(model.model_specific_defaults, spec_user, user_source=request.spec_source)
        spec = resolved.spec
        extra = {**resolved.passthrough, **component_user}
        report, target = self.compute.check(model, spec, request.compute, extra)
        if not report.fits and not request.force:
            raise DoesNotFit(
                f"{model.name} on {request.compute}: {report.decided_by or 'does not fit'} (or pass --force)", report
            )
        gpus = gpus_per_node or target.gpus_per_node or 1
        display_name = request.display_name or spec.display_name(model.name, gpus)
        experiment = request.experiment or f"chat_completion_{model.name}"

        params = chosen_parameters(spec, model.model_specific_defaults, spec_user, extra)
        accepted = set(getattr(component, "inputs", None) or {})
        if accepted:
            ignored = sorted(k for k in params if k not in accepted)
            if ignored:
                log.warning("%s does not take %s; left out", PIPELINE_COMPONENT, ", ".join(ignored))
            params = {k: v for k, v in params.items() if k in accepted}
        cluster = request.compute
        inputs: dict[str, Any] = {
            "mlflow_model_path": model.id,
            "compute_model_import": cluster,
            "compute_preprocess": cluster,
            "compute_finetune": cluster,
            "compute_model_evaluation": cluster,
            # absolute, so an exported job finds its files from wherever it is run
            "train_file_path": Input(type="uri_file", path=str(Path(request.train_file).resolve())),
            "number_of_gpu_to_use_finetuning": gpus,
            **params,
        }
        if request.test_file:
            inputs["test_file_path"] = Input(type="uri_file", path=str(Path(request.test_file).resolve()))
        settings = {"force_rerun": True, "continue_on_step_failure": False}
        tags = {
            f"{TAG}model": model.ref,
            f"{TAG}model_id": model.id,
            f"{TAG}train_file": str(request.train_file),
            f"{TAG}test_file": str(request.test_file or ""),
            f"{TAG}spec": json.dumps(spec.to_dict(), sort_keys=True),
            f"{TAG}gpus_per_node": str(gpus),
        }

        # func spelled out as None: the SDK's overload for the decorator-factory form leaves out its default
        @pipeline(None, name=display_name)
        def create_pipeline() -> dict[str, Any]:
            chat_completion_pipeline = component(**inputs)  # the variable's name becomes the node's
            return {"trained_model": chat_completion_pipeline.outputs.mlflow_model_folder}

        def build() -> PipelineJob:
            job = create_pipeline()
            job.display_name = display_name
            job_settings = job.settings
            assert job_settings is not None  # the SDK's getter builds them on first read; only its type says Optional
            job_settings.force_rerun = settings["force_rerun"]
            job_settings.continue_on_step_failure = settings["continue_on_step_failure"]
            job.tags = dict(tags)
            return job

        job = self.client.call(build, self.client.reg_ctx(f"component {PIPELINE_COMPONENT}", "use"))
        plain = {k: (v.path if isinstance(v, Input) else v) for k, v in inputs.items()}
        plan = JobPlan(
            experiment=experiment,
            display_name=display_name,
            component=str(component.id),
            compute=cluster,
            inputs=plain,
            settings=settings,
            tags=tags,
        )
        return job, experiment, plan, resolved

    # -- read ---------------------------------------------------------------------------
    def to_job(self, sdk_job: Any, steps: tuple[JobStep, ...] = (), error: str | None = None) -> Job:
        tags = dict(getattr(sdk_job, "tags", None) or {})
        spec: dict[str, Any] = {}
        try:
            spec = json.loads(tags.get(f"{TAG}spec", "{}"))
        except ValueError:
            pass
        props = dict(getattr(sdk_job, "properties", None) or {})
        started = ended = None
        try:
            stage = json.loads(props.get("azureml.pipelines.stages", "null") or "null") or {}
            execution = stage.get("Execution") or {}
            started, ended = to_timestamp(execution.get("StartTime")), to_timestamp(execution.get("EndTime"))
        except (ValueError, AttributeError):
            pass
        created = to_timestamp(getattr(getattr(sdk_job, "creation_context", None), "created_at", None)) or time.time()
        status = map_status(getattr(sdk_job, "status", None))
        return Job(
            name=str(sdk_job.name),
            display_name=str(getattr(sdk_job, "display_name", None) or sdk_job.name),
            status=status,
            backend="azure",
            model=tags.get(f"{TAG}model", ""),
            train_file=tags.get(f"{TAG}train_file", ""),
            test_file=tags.get(f"{TAG}test_file") or None,
            spec=spec,
            created_at=created,
            started_at=started,
            ended_at=ended if status.terminal else None,
            error=error,
            experiment=getattr(sdk_job, "experiment_name", None),
            output_path=f"azureml://jobs/{sdk_job.name}/outputs/trained_model",
            steps=steps,
        )

    def get(self, name: str) -> Job:
        sdk_job = self.runs.sdk_job(name)
        status = map_status(sdk_job.status)
        runs = self.runs.child_runs(name) if str(getattr(sdk_job, "type", "")) == "pipeline" else []
        steps = tuple(to_step(r) for r in runs)
        error = self.failure(name, runs) if status is JobStatus.FAILED else None
        return self.to_job(sdk_job, steps, error)

    def list(self) -> list[Job]:
        ws = self.client.ws
        found = self.client.call(lambda: [j for j in ws.jobs.list() if j is not None], self.client.ws_ctx("jobs"))
        jobs = [self.to_job(j) for j in found if str(getattr(j, "type", "")) == "pipeline"]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def steps(self, name: str) -> tuple[JobStep, ...]:
        return self.runs.steps(name)

    def cancel(self, name: str) -> Job:
        ws = self.client.ws
        ctx = self.client.ws_ctx(f"job {name}", "cancel")
        poller = self.client.call(lambda: ws.jobs.begin_cancel(name), ctx)
        self.client.call(poller.result, ctx)
        return self.get(name)

    # -- failure ------------------------------------------------------------------------------
    # builtins.list: inside the class body `list` is the method above
    def failure(self, name: str, runs: builtins.list[Any], tail_lines: int = 10) -> str:
        """The failing step, the service's message, and the last lines of that step's log."""
        failed = next((r for r in runs if map_status(r.status) is JobStatus.FAILED), None)
        run_id = str(failed.run_id) if failed else name
        details = None
        try:
            details = self.logs.details(run_id)
        except FinetuiError:  # the message below is still worth showing without the log tail
            pass
        message = _run_error(failed) or _run_error(details) or "the job failed; see its logs"
        where = f"step {failed.display_name or failed.name or run_id} failed" if failed else "job failed"
        first = f"{where}: {first_line(message, 300)}"
        files = (getattr(details, "log_files", None) or {}) if details is not None else {}
        chosen = pick_log_file(list(files))
        if not chosen:
            return first
        try:
            data, _ = self.logs.fetch(files[chosen], 0, 1 << 20, ended=True)
        except FinetuiError:
            return first
        tail = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()][-tail_lines:]
        return first + ("\n" + "\n".join(tail) if tail else "")

    def metrics(self, name: str) -> builtins.list[MetricPoint]:
        """The fine-tune step's metrics (loss, learning_rate, ...) from the workspace's MLflow server."""
        run_id = self.finetune_run(name)
        return self.metrics_reader().for_run(run_id) if run_id is not None else []

    def finetune_run(self, name: str) -> str | None:
        """The run id of the job's finetune step (the job's own for a single-step job); None before it starts."""
        if str(getattr(self.runs.sdk_job(name), "type", "")) != "pipeline":
            return name
        finetune = next((s for s in self.steps(name) if "finetune" in (s.display_name or "").lower()), None)
        return finetune.name if finetune is not None else None

    def checkpoints(self, name: str) -> builtins.list[Checkpoint]:
        """The finetune step's saved checkpoints, from its output on the default datastore."""
        from ..names import check_name
        from .checkpoints import AzureCheckpoints

        check_name("job", name)  # before it reaches a URL or a blob prefix
        if self._checkpoints is None:
            self._checkpoints = AzureCheckpoints(self.client, self.finetune_run)
        return self._checkpoints.list(name)

    def metrics_reader(self) -> AzureMetrics:
        """The workspace's tracking server (one per backend: it caches the server's address)."""
        from .metrics import AzureMetrics

        if self._metrics is None:
            self._metrics = AzureMetrics(self.client)
        return self._metrics


def _run_error(details: Any) -> str | None:
    err = getattr(details, "error", None)
    inner = getattr(err, "error", None) if err is not None else None
    message = getattr(inner, "message", None) or getattr(err, "message", None)
    if message:
        return str(message).strip()
    for warning in getattr(details, "warnings", None) or []:
        if getattr(warning, "message", None):
            return str(warning.message).strip()
    return None


def _require_data(path: str, which: str) -> None:
    """The dataset is checked here first: a bad row should fail in seconds, not after a cluster spins up."""
    if not Path(path).is_file():
        raise InvalidInput(f"{which} file {path}: not found")
    require_valid_data(path, which)
