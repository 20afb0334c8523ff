"""Local evaluations: submit, watch, cancel, read, like fine-tuning jobs.

An evaluation is recorded in the workspace's SQLite file (its own ``evals``
table) and run by ``core/local/eval_runner.py`` in a detached process
(``core/local/detached.py``), so it survives the app and an SSH hang-up.
Reading one reconciles it with reality: a runner that died is reported as Failed.
Per-row results are ``evals/<name>/rows.jsonl`` in the workspace.
"""

from __future__ import annotations

import builtins
import json
import secrets
import time
from pathlib import Path
from typing import Any

from ..data.submit_check import require_valid_data
from ..errors import Conflict, InvalidInput, OperationFailed, quote
from ..chat import ChatClient
from ..eval_judge import JUDGE_PROMPT, JUDGE_TIMEOUT_S
from ..evaluate import DeployGate, EvalJudge, EvalRequest, EvalRun, gate
from ..models import Endpoint, EndpointState, JobStatus
from ..names import check_name, confined
from ..workspace import WorkspacePaths
from .detached import DetachedRuns
from .endpoints import LocalEndpoints
from .jobs import _existing_file
from .records import Damaged, EvalRecord, public
from .store import Store

LOG_NAME = "log.txt"
ROWS_NAME = "rows.jsonl"
MAX_ROWS_LIMIT = 1_000_000
MAX_NEW_TOKENS_LIMIT = 4096


class LocalEvals:
    def __init__(self, paths: WorkspacePaths, store: Store, catalog: Any, endpoints: LocalEndpoints) -> None:
        self.paths = paths
        self.store = store
        self.catalog = catalog
        self.endpoints = endpoints
        self.runs = DetachedRuns[EvalRecord](
            kind="evaluation",
            process="evaluation",
            module="finetui.core.local.eval_runner",
            flag="eval",
            workspace=paths.root,
            get_record=store.get_eval,
            list_records=store.list_evals,
            update_if=store.update_eval_if,
            log_path=lambda name: self.eval_dir(name) / LOG_NAME,
            missing=lambda name: f"no evaluation named {name!r} in {paths.root}; `finetui eval list` shows them",
        )

    @property
    def root(self) -> Path:
        return self.paths.root / "evals"

    def eval_dir(self, name: str) -> Path:
        return confined(self.root, "job", name)

    # -- submit ------------------------------------------------------------------
    def submit(self, request: EvalRequest) -> EvalRun:
        if request.max_rows is not None and not 1 <= request.max_rows <= MAX_ROWS_LIMIT:
            raise InvalidInput(f"--max-rows {quote(request.max_rows)}: use a whole number from 1 to {MAX_ROWS_LIMIT}")
        if not 1 <= request.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise InvalidInput(f"--max-new-tokens {quote(request.max_new_tokens)}: use 1 to {MAX_NEW_TOKENS_LIMIT}")
        model = self._local_model(request.model, "model")
        base_ref = request.base or model.lineage.get("base_model") or None
        base = self._local_model(base_ref, "--base") if base_ref else None
        test_file = _existing_file(request.test_file, "--test")
        require_valid_data(test_file)
        judge = None
        if request.judge is not None:
            if base is None:
                raise InvalidInput(
                    f"--judge compares the model's answers with its base's, and {model.ref} has none recorded: add --base MODEL"
                )
            judge = EvalJudge(ready_judge(self.endpoints, request.judge).name, JUDGE_PROMPT)

        name = f"eval-{model.name.lower()[:40].strip('-.')}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        folder = self.eval_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        self.store.put_eval(
            EvalRecord(
                name=name,
                status=JobStatus.NOT_STARTED,
                model=model.ref,
                model_path=model.path,
                base=base.ref if base else None,
                base_path=base.path if base else None,
                model_defaults=dict((base or model).model_specific_defaults),
                test_file=str(test_file),
                max_rows=request.max_rows,
                max_new_tokens=request.max_new_tokens,
                created_at=time.time(),
                phase="queued",
                judge=judge,
            )
        )
        self.runs.start(name, cwd=folder)
        self.store.update_eval_if(name, (JobStatus.NOT_STARTED.value,), status=JobStatus.QUEUED.value)
        return self.get(name)

    def _local_model(self, ref: str, what: str) -> Any:
        entry = self.catalog.get(ref)
        if not entry.path:
            raise InvalidInput(f"{what} {entry.ref} has no local files; local evaluations need a local model")
        return entry

    # -- read ------------------------------------------------------------------------
    def get(self, name: str) -> EvalRun:
        return to_run(self.runs.get(check_name("job", name)))

    def list(self) -> list[EvalRun]:
        return [to_run(r) for r in self.runs.list_all()]

    def latest_for(self, ref: str) -> EvalRun | None:
        """The newest Completed evaluation of the catalog model ``ref`` resolves to."""
        wanted = self.catalog.get(ref).ref
        for r in self.store.list_evals():
            if isinstance(r, EvalRecord) and r.model == wanted and r.status is JobStatus.COMPLETED:
                return to_run(r)
        return None

    def gate(self, ref: str) -> DeployGate:
        """What to tell someone about to deploy ``ref``: its latest evaluation against its base."""
        wanted = self.catalog.get(ref).ref
        return gate(wanted, self.latest_for(wanted))

    # builtins.list: inside the class body `list` is the method above
    def rows(self, name: str) -> builtins.list[dict[str, Any]]:
        run = self.get(name)
        if not run.rows_path:
            return []
        try:
            with open(run.rows_path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError) as exc:  # removed or damaged since: one line, not a traceback
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
            raise OperationFailed(f"evaluation {name}: cannot read its per-row results {run.rows_path}: {why}") from None

    def log_path(self, name: str) -> Path:
        return self.eval_dir(self.get(name).name) / LOG_NAME

    # -- cancel ----------------------------------------------------------------------
    def cancel(self, name: str) -> EvalRun:
        record = self.runs.get(check_name("job", name))
        if isinstance(record, Damaged) or record.status.terminal:
            run = to_run(record)
            raise Conflict(f"evaluation {name} has already ended ({run.status.value}); nothing to cancel")
        self.runs.cancel(record)
        return self.get(name)


def ready_judge(endpoints: LocalEndpoints, name: str) -> Endpoint:
    """The endpoint ``--judge`` names, if it is one of this workspace's and ready to answer; else InvalidInput."""
    try:
        check_name("endpoint", name)
    except InvalidInput as exc:
        raise InvalidInput(f"--judge: {exc}") from None
    ep = endpoints.get(name)  # NotFound names the endpoint and how to list them
    if ep.state is not EndpointState.SUCCEEDED or not ep.base_url:
        why = f": {ep.error.splitlines()[0]}" if ep.error else ""
        raise InvalidInput(f"--judge {name} is {ep.state.value}{why}", hint=f"`finetui endpoint restart {name}`")
    return ep


def open_judge(endpoints: LocalEndpoints, name: str) -> ChatClient:
    """A client for the judge endpoint, its key read from the workspace now (never passed to the runner)."""
    ep = ready_judge(endpoints, name)
    assert ep.base_url  # ready_judge refuses an endpoint without one
    return ChatClient(ep.base_url, endpoints.keys(name).primary, timeout=JUDGE_TIMEOUT_S, endpoint=name)


def to_run(r: EvalRecord | Damaged) -> EvalRun:
    """An evaluation's record as a typed run; a damaged record shows as Damaged under its name, alone."""
    if isinstance(r, Damaged):
        return EvalRun(
            name=r.name,
            status=JobStatus.DAMAGED,
            model="",
            base=None,
            test_file="",
            created_at=0.0,
            error=f"the evaluation's record in the workspace database is damaged ({r.why}); others are unaffected",
        )
    return public(r, EvalRun)
