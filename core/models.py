"""The domain model: typed records that every backend takes and returns.

Plain dataclasses with no behaviour beyond small derived properties, so the
TUI, the CLI's ``--json`` output and the tests all see the same shapes.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any


class JobStatus(str, enum.Enum):
    """Azure ML's job status values, used by every backend."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    # not Azure's: a local record that cannot be read (shown with its name; other jobs are unaffected)
    DAMAGED = "Damaged"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.DAMAGED)


# The status values of a job or evaluation that may still change (what guarded record updates match on).
ACTIVE_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus if not s.terminal)


class Verdict(str, enum.Enum):
    OK = "ok"
    TIGHT = "tight"
    DOES_NOT_FIT = "does-not-fit"


class EndpointState(str, enum.Enum):
    """Provisioning states as Azure reports them, plus Unhealthy for a dead server."""

    CREATING = "Creating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UPDATING = "Updating"
    DELETING = "Deleting"
    STOPPED = "Stopped"
    UNHEALTHY = "Unhealthy"
    DAMAGED = "Damaged"  # a local record that cannot be read


class Versioned:
    """A model named by ``NAME:VERSION``, in the catalog or registered."""

    name: str
    version: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class CatalogModel(Versioned):
    name: str
    version: str
    source: str  # "demo", "workspace", "local-path", "hf-cache", "registry", "azureml"
    id: str
    path: str | None = None
    architecture: str | None = None
    parameter_count: int | None = None
    context_length: int | None = None
    size_bytes: int | None = None
    dtype: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    model_specific_defaults: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuInfo:
    name: str
    memory_bytes: int


@dataclass(frozen=True)
class ComputeTarget:
    name: str
    kind: str  # "cpu", "cuda", "aml-cluster"
    cpu_cores: int | None = None
    memory_bytes: int | None = None
    gpus: tuple[GpuInfo, ...] = ()
    vm_size: str | None = None
    gpus_per_node: int | None = None
    max_nodes: int | None = None
    provisioning_state: str | None = None
    tier: str | None = None  # Azure: dedicated or low_priority
    min_nodes: int | None = None  # an Azure cluster above 0 bills its idle nodes (`finetui down` scales it to 0)
    idle_seconds: int | None = None  # Azure: idle time before scale-down

    @property
    def accelerator_memory_bytes(self) -> int | None:
        """Memory of one device that holds a model replica: the smallest GPU, else RAM."""
        if self.gpus:
            return min(g.memory_bytes for g in self.gpus)
        return self.memory_bytes


@dataclass(frozen=True)
class ClusterQuota:
    """Cores a cluster needs against the quota the service reports (``usages``)."""

    tier: str  # dedicated or low_priority
    usage_name: str  # the VM family's quota, or the region's low-priority cores
    used_cores: int
    limit_cores: int
    needed_cores: int
    cores_per_node: int

    @property
    def free_cores(self) -> int:
        return max(0, self.limit_cores - self.used_cores)

    @property
    def short(self) -> bool:
        return self.needed_cores > self.free_cores


@dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: int
    trainable_parameters: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int
    overhead_bytes: int
    parameters: int | None = None  # the model's whole count, as the estimate took it

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activations_bytes + self.overhead_bytes


@dataclass(frozen=True)
class FitReport:
    model: str
    target: str
    verdict: Verdict
    estimate: MemoryEstimate
    available_bytes: int | None
    reasons: tuple[str, ...] = ()
    suggestion: str | None = None
    decided_by: str | None = None  # the reason that settled the verdict
    precision: str | None = None  # fp32, bf16 or fp16: what training runs in there
    gpus_per_node: int | None = None
    gpu_model: str | None = None
    gpu_memory_bytes: int | None = None

    @property
    def fits(self) -> bool:
        return self.verdict is not Verdict.DOES_NOT_FIT


@dataclass(frozen=True)
class ValidationIssue:
    line: int  # 1-based; 0 for a whole-file problem
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class TokenStats:
    count: int
    min: int
    max: int
    mean: float
    p50: int
    p95: int
    max_seq_length: int | None = None
    over_max: int = 0


@dataclass(frozen=True)
class ValidationReport:
    path: str
    rows: int
    valid_rows: int
    issues: tuple[ValidationIssue, ...] = ()
    issues_truncated: int = 0
    token_stats: TokenStats | None = None

    @property
    def ok(self) -> bool:
        return not self.issues and self.valid_rows > 0


@dataclass(frozen=True)
class JobStep:
    name: str  # the run id
    status: JobStatus
    display_name: str | None = None  # the step's name in the pipeline: model_import, finetune, ...
    started_at: float | None = None
    ended_at: float | None = None
    compute: str | None = None
    duration_s: float | None = None  # end (or now, while it runs) minus start


@dataclass(frozen=True)
class Job:
    name: str
    display_name: str
    status: JobStatus
    backend: str
    model: str
    train_file: str
    test_file: str | None
    spec: dict[str, Any]
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    experiment: str | None = None
    output_path: str | None = None
    pid: int | None = None
    steps: tuple[JobStep, ...] = ()
    # the loss mask the local trainer used: {"method", "trained_share", "reason"} (core/data/masking.py)
    masking: dict[str, Any] | None = None
    data_check: str | None = None  # job submit's one line on the training rows (core/data/preview.py)
    # what submit has to say about the spec (ResolvedSpec.notes); only the submitted Job carries them
    notes: tuple[str, ...] = ()

    def run_time_s(self, now: float) -> float | None:
        """Seconds it ran: to its end, or to ``now`` while it runs; None before it started."""
        return (self.ended_at or now) - self.started_at if self.started_at else None


@dataclass(frozen=True)
class JobPlan:
    """A job as it would be submitted (``job submit --dry-run``): nothing uploaded, nothing started."""

    experiment: str
    display_name: str
    component: str  # the pipeline component's id
    compute: str
    inputs: dict[str, Any]  # literal values; data files as the local paths that would be uploaded
    settings: dict[str, Any]
    tags: dict[str, str]
    yaml: str = ""  # the job as `az ml job create --file` takes it
    python: str = ""  # the tutorial's SDK code for the same job


THROUGHPUT_METRIC = "tokens_per_second"  # the tokens/s a local job logs at each logging step


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    step: int
    epoch: float | None = None
    timestamp: float | None = None


@dataclass(frozen=True)
class LogChunk:
    """Bytes of a log from ``offset`` up to ``next_offset``; ``complete`` once the job has ended and all is read."""

    text: str
    offset: int
    next_offset: int
    complete: bool


@dataclass(frozen=True)
class RegisteredModel(Versioned):
    name: str
    version: str
    path: str
    job: str | None
    base_model: str | None
    created_at: float
    description: str = ""
    format: str = "mlflow"
    lineage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    name: str
    model: str
    state: EndpointState
    scoring_uri: str | None = None
    openapi_uri: str | None = None
    base_url: str | None = None
    auth_mode: str = "key"
    created_at: float | None = None
    started_at: float | None = None
    last_request_at: float | None = None
    request_timeout_ms: int = 90000
    idle_timeout_s: float | None = None
    error: str | None = None
    pid: int | None = None
    backend: str = "local"
    ttl_s: float | None = None  # time to live from creation (core/ttl.py)
    expires_at: float | None = None
    instance_type: str | None = None  # the SKU it bills as (Azure); None for a local server


@dataclass(frozen=True)
class EndpointKeys:
    primary: str
    secondary: str

    def __repr__(self) -> str:  # keys must never reach a log or a traceback
        return "EndpointKeys(primary='***', secondary='***')"


@dataclass(frozen=True)
class ClusterOptions:
    """``azure compute-create``'s choices; the defaults are the tutorial's (one node at most, down after 120 s idle)."""

    size: str
    min_nodes: int = 0
    max_nodes: int = 1
    idle_seconds: int = 120
    tier: str = "dedicated"
    fallback: bool = True  # create low priority when the dedicated quota is short
    wait: bool = True


@dataclass(frozen=True)
class ClusterCreated:
    """``azure compute-create``: the cluster, the quota it draws on, and a note when it fell back to low priority."""

    target: ComputeTarget
    quota: ClusterQuota | None
    note: str | None


@dataclass(frozen=True)
class DemoResult:
    """The offline demo in a workspace: its model, its data files, and whether this call built them."""

    model_name: str
    model_version: str
    model_path: str
    train_file: str
    test_file: str
    heldout_file: str
    sample_score_file: str
    built: bool  # False when it was already there


@dataclass(frozen=True)
class Checkpoint:
    """A job's saved trainer checkpoint (``job checkpoints``), complete on disk, with its losses."""

    step: int
    epoch: float | None
    path: str
    train_loss: float | None
    eval_loss: float | None
    best: bool = False


@dataclass(frozen=True)
class EndpointInfo:
    """``endpoint show``: the endpoint and what its backend knows beyond the record (a local server's
    host, port, model folder and log), as the JSON output names them."""

    endpoint: Endpoint
    details: dict[str, Any] = field(default_factory=dict)


def to_jsonable(obj: Any) -> Any:
    """Turn records (and lists/dicts of them) into JSON-ready values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for extra in ("ref", "total_bytes", "ok", "fits", "free_cores", "short"):
            if hasattr(type(obj), extra) and isinstance(getattr(type(obj), extra), property):
                out[extra] = to_jsonable(getattr(obj, extra))
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj
