"""Workspaces and a fixed backend for the app's tests.

``make_local_workspace`` builds real records through the local backend (the
catalog's add_path, the store), so Pilot tests exercise the real core.
``FixedBackend`` is a backend registered under its own name with constant
records: snapshots must not depend on this machine's RAM or the clock.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from types import SimpleNamespace

from finetui.core.errors import NotFound, unsupported
from finetui.core.models import (
    CatalogModel,
    Checkpoint,
    ComputeTarget,
    Endpoint,
    EndpointInfo,
    EndpointKeys,
    EndpointState,
    FitReport,
    Job,
    JobStatus,
    LogChunk,
    MemoryEstimate,
    MetricPoint,
    RegisteredModel,
    Verdict,
)
from finetui.core.local.records import JobRecord
from finetui.core.spec import resolve_spec

T0 = 1_760_000_000.0
DEFAULTS = {"learning_rate": 0.0001, "apply_deepspeed": False, "num_train_epochs": 1}


def chat_rows(n: int, seed: int = 0) -> list[dict]:
    rows = []
    for i in range(n):
        q = f"Question {i}: how do I fine-tune model {seed}-{i} on a small chat dataset?"
        a = f"Answer {i}: use **LoRA** with a low rank, check memory first, then train for one epoch."
        rows.append(
            {
                "prompt": q,
                "prompt_id": f"{seed:04d}{i:06d}",
                "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def log_lines(n: int) -> list[str]:
    return [f"step {i + 1}/{n} loss={2.0 - i * 0.01:.3f} lr=0.0001" for i in range(n)]


def metric_points(n: int) -> list[dict]:
    out = [{"name": "loss", "value": round(2.0 - i * 0.03, 3), "step": i + 1} for i in range(n)]
    out += [{"name": "eval_loss", "value": round(2.1 - i * 0.025, 3), "step": i + 1} for i in range(0, n, 5)]
    return out


def make_local_workspace(root: Path):
    from finetui.core.local.backend import LocalBackend
    from model_folders import make_tiny_model

    backend = LocalBackend(root)
    folder = make_tiny_model(root.parent / "src" / "tiny-chat")
    backend.catalog.add_path(folder, "tiny-chat", description="a tiny test model", model_specific_defaults=DEFAULTS)
    write_jsonl(backend.paths.data / "train.jsonl", chat_rows(120))
    write_jsonl(backend.paths.data / "test.jsonl", chat_rows(20, seed=1))
    add_finished_job(backend, "tiny-chat-20250101-000000-abcd")
    return backend


def add_finished_job(backend, name: str, lines: int = 300) -> Path:
    job_dir = backend.paths.job_dir(name)
    log = job_dir / "user_logs" / "std_log.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(log_lines(lines)) + "\n", encoding="utf-8")
    (job_dir / "metrics.jsonl").write_text("".join(json.dumps(p) + "\n" for p in metric_points(40)))
    spec = resolve_spec(DEFAULTS).spec.to_dict()
    backend.store.put_job(
        JobRecord.from_dict(
            {
                "name": name,
                "display_name": "tiny-chat-ultrachat",
                "status": "Completed",
                "backend": "local",
                "model": "tiny-chat:1",
                "model_path": None,
                "train_file": str(backend.paths.data / "train.jsonl"),
                "test_file": None,
                "spec": spec,
                "overrides": [],
                "created_at": T0,
                "started_at": T0 + 5,
                "ended_at": T0 + 125,
                "error": None,
                "pid": None,
                "pid_start_time": None,
                "output_path": None,
                "experiment": "chat_completion_tiny-chat",
                "job_dir": str(job_dir),
            }
        )
    )
    return log


class FixedBackend:
    """Constant records for snapshot tests (a backend registered by name, as tests may): a whole ``Backend``,
    the operations it has no records for refused as any backend refuses what it lacks."""

    name = "fixed"

    def __init__(self, root: Path) -> None:
        data = root / "data"
        write_jsonl(data / "train.jsonl", chat_rows(60))
        self.gates: dict = {}  # model ref -> the DeployGate endpoint create shows
        self.paths = SimpleNamespace(root=Path("/workspace/demo"), data=data)
        self.model = CatalogModel(
            name="tiny-chat",
            version="1",
            source="demo",
            id="local://models/tiny-chat/versions/1",
            architecture="LlamaForCausalLM",
            parameter_count=1_100_000,
            context_length=2048,
            size_bytes=4_400_000,
            dtype="float32",
            description="the offline demo model",
            tags={"task": "chat-completion"},
            model_specific_defaults=DEFAULTS,
        )
        self.job = Job(
            name="tiny-chat-20250101-000000-abcd",
            display_name="tiny-chat-ultrachat",
            status=JobStatus.COMPLETED,
            backend="fixed",
            model="tiny-chat:1",
            train_file="/workspace/demo/data/train.jsonl",  # a record's text: snapshots show it
            test_file=None,
            spec=resolve_spec(DEFAULTS).spec.to_dict(),
            created_at=T0,
            started_at=T0 + 5,
            ended_at=T0 + 125,
        )
        self.endpoint = Endpoint(
            name="tiny-chat-ep",
            model="tiny-chat-ft:1",
            state=EndpointState.SUCCEEDED,
            scoring_uri="http://127.0.0.1:8123/score",
            base_url="http://127.0.0.1:8123",
            created_at=T0,
            started_at=T0 + 10,
            last_request_at=T0 + 50,
            idle_timeout_s=3600,
        )
        self.endpoints = [self.endpoint]
        self.registered: list = []
        # the job's saves every 10 steps, losses as metric_points(40) logs them; the trainer kept step 30
        self.checkpoints = [
            Checkpoint(step, step / 40, f"/workspace/demo/jobs/{self.job.name}/checkpoint-{step}", train, eval_, step == 30)
            for step, train, eval_ in ((10, 1.73, 1.85), (20, 1.43, 1.6), (30, 1.13, 1.35), (40, 0.83, 1.375))
        ]
        self.checkpoint_registrations: list[tuple] = []  # register_checkpoint's arguments, in order
        self.serve_url = "http://127.0.0.1:9"
        self.endpoint_lists = 0  # list_endpoints calls: tests wait for a poll to have happened
        self._log = ("\n".join(log_lines(200)) + "\n").encode()

    def _no(self, what):
        return unsupported(self.name, what, "it shows constant records")

    def state_folder(self):
        return self.paths.root

    def data_folder(self):
        return self.paths.data

    def azure_target(self):
        return None

    def list_models(self, query=None):
        # registered versions are in the catalog too, as the local backend lists them
        registered = [
            CatalogModel(m.name, m.version, "registry", f"fixed://registry/{m.name}/{m.version}") for m in self.registered
        ]
        return [m for m in (self.model, *registered) if not query or query.lower() in m.name]

    def get_model(self, ref):
        if ref.split(":")[0] != self.model.name:
            raise NotFound(f"no model {ref}")
        return self.model

    def add_model(self, path, name=None):
        raise self._no("add models")

    def pull_model(self, repo_id, progress=None):
        raise self._no("add models")

    def list_compute(self):
        return [ComputeTarget(name="cpu", kind="cpu", cpu_cores=8, memory_bytes=16 << 30)]

    def check_compute(self, model, spec=None, target=None, component_inputs=None):
        est = MemoryEstimate(4_400_000, 20_000, 80_000, 160_000, 50_000_000, 300_000_000)
        return FitReport(
            model=model,
            target="cpu",
            verdict=Verdict.OK,
            estimate=est,
            available_bytes=16 << 30,
            reasons=("weights, LoRA state and activations fit in 16 GiB of RAM",),
            suggestion=None,
        )

    def create_compute(self, name, options):
        raise self._no("create compute")

    def scale_compute_to_zero(self, name):
        raise self._no("scale compute")

    def resolve_spec(self, model, user=None, source=None):
        # with the model's context, as LocalBackend.resolve_spec: the form's max_seq_length note shows it
        return dataclasses.replace(resolve_spec(DEFAULTS, user, user_source=source), context_length=self.model.context_length)

    def submit_job(self, request):
        raise self._no("submit jobs")

    def plan_job(self, request):
        raise self._no("plan jobs")

    def list_jobs(self):
        return [self.job]

    def get_job(self, name):
        return self.job

    def job_steps(self, name):
        raise self._no("list job steps")

    def cancel_job(self, name):
        raise self._no("cancel jobs")

    def resume_job(self, name):
        raise self._no("resume jobs")

    def extend_job(self, name, epochs):
        raise self._no("extend jobs")

    def job_checkpoints(self, name):
        return list(self.checkpoints) if name == self.job.name else []

    def list_log_files(self, name, step=None):
        raise self._no("list log files")

    def job_log_path(self, name):
        return None  # no local file: the app mirrors read_log, as it does for Azure

    def read_log(self, name, offset=0, max_bytes=1 << 20):
        data = self._log[offset : offset + max_bytes]
        return LogChunk(data.decode(), offset, offset + len(data), offset + len(data) >= len(self._log))

    def job_metrics(self, name):
        return [MetricPoint(p["name"], p["value"], p["step"]) for p in metric_points(40)]

    def submit_eval(self, request):
        raise self._no("run evaluations")

    def list_evals(self):
        return []

    def get_eval(self, name):
        raise NotFound(f"no evaluation {name}")

    def eval_rows(self, name):
        raise NotFound(f"no evaluation {name}")

    def cancel_eval(self, name):
        raise NotFound(f"no evaluation {name}")

    def job_evaluation(self, name):
        raise self._no("read a job's evaluation step")

    def evaluation_gate(self, model_ref):
        return self.gates.get(model_ref)

    def register_model(self, job, name, version=None, description=""):
        raise self._no("register models")

    def register_checkpoint(self, job, checkpoint, name, version=None, description=""):
        self.checkpoint_registrations.append((job, checkpoint, name, version, description))
        model = RegisteredModel(
            name=name,
            version=version or str(1 + sum(m.name == name for m in self.registered)),
            path=f"/workspace/demo/models/{name}",
            job=job,
            base_model=self.job.model,
            created_at=T0 + 200,
        )
        self.registered.append(model)
        return model

    def list_registered(self, name=None):
        return list(self.registered)

    def create_endpoint(self, name, model_ref, options=None):
        """Records an endpoint that is up at ``serve_url`` (a test's chat server), with the options' time to live."""
        ttl_s = getattr(options, "ttl_s", None)
        endpoint = Endpoint(
            name=name,
            model=model_ref,
            state=EndpointState.SUCCEEDED,
            scoring_uri=f"{self.serve_url}/score",
            base_url=self.serve_url,
            created_at=T0 + 60,
            started_at=T0 + 70,
            idle_timeout_s=3600,
            ttl_s=ttl_s,
            expires_at=T0 + 60 + ttl_s if ttl_s else None,
        )
        self.endpoints.append(endpoint)
        return endpoint

    def list_endpoints(self):
        self.endpoint_lists += 1
        return list(self.endpoints)

    def get_endpoint(self, name):
        return next(e for e in self.endpoints if e.name == name)

    def plan_endpoint(self, name, model_ref, options=None):
        raise self._no("plan endpoints")

    def endpoint_info(self, name):
        return EndpointInfo(self.get_endpoint(name))

    def endpoint_keys(self, name):
        return EndpointKeys("pk-secret-primary-0123456789", "sk-secret-secondary-9876543210")

    def regenerate_endpoint_keys(self, name, which):
        raise self._no("regenerate keys")

    def endpoint_logs(self, name, offset=0, max_bytes=1 << 20):
        return LogChunk("", offset, offset, True)

    def invoke_endpoint(self, name, body):
        raise self._no("invoke endpoints")

    def restart_endpoint(self, name):
        raise self._no("restart endpoints")

    def delete_endpoint(self, name):
        raise NotFound(name)

    def build_demo(self, progress=None, *, force=False, only_if_empty=False):
        raise self._no("build the demo")


async def wait_for(pilot, condition, timeout: float = 10.0, step: float = 0.02) -> None:
    """Poll ``condition`` while the app runs; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(step)


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    import io

    from rich.console import Console

    console = Console(width=app.size.width, file=io.StringIO(), record=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()
