"""The detached evaluation process: ``python -m finetui.core.local.eval_runner --workspace WS --eval NAME``.

Started by LocalEvals in its own session with its output appended to
``evals/<name>/log.txt``. It scores the model, then its base, moving the
record through Preparing, Running and Completed (or Failed with one line),
each change guarded so a ``Canceled`` written by ``eval cancel`` stands.
Signals are handled as the job runner handles them (SIGTERM cancels, SIGHUP
and SIGINT are ignored). Per-row results are written whole, then renamed into
place, so a reader never sees half of them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from .runner import EXIT_CANCELED, JobCanceled, detached_main  # sets the offline and OpenMP environment first

from ..eval_judge import RowVerdict, count, judge_rows, model_is_a  # noqa: E402
from ..evaluate import split_row  # noqa: E402
from ..models import ACTIVE_STATUSES, JobStatus  # noqa: E402
from ..workspace import WorkspacePaths  # noqa: E402
from .evals import LOG_NAME, ROWS_NAME  # noqa: E402
from .metrics import JobLog  # noqa: E402
from .records import EvalRecord  # noqa: E402
from .store import Store  # noqa: E402


def run_eval(paths: WorkspacePaths, store: Store, record: EvalRecord) -> int:
    name = record.name
    folder = paths.root / "evals" / name
    log = JobLog(folder / LOG_NAME)

    def move(status: JobStatus | None, **changes: object) -> None:
        if status is not None:
            changes["status"] = status.value
        if store.update_eval_if(name, ACTIVE_STATUSES, **changes) is None:
            raise JobCanceled()  # canceled (or ended) by someone else: stop here

    try:
        move(JobStatus.PREPARING, pid=os.getpid(), started_at=time.time(), phase="loading the test rows")
        from ..spec import FineTuneSpec
        from .train import _quiet_libraries, read_messages

        _quiet_libraries()
        conversations = read_messages(record.test_file)
        rows = [r for r in (split_row(c["messages"]) for c in conversations) if r is not None]
        if record.max_rows:
            rows = rows[: record.max_rows]
        if not rows:
            raise ValueError(f"{record.test_file}: no row ends with an assistant reply to compare against")
        sides = [
            (side, ref, path)
            for side, ref, path in (("model", record.model, record.model_path), ("base", record.base, record.base_path))
            if ref
        ]
        log(f"evaluation {name}: {len(rows)} rows of {record.test_file}; " + ", ".join(f"{s} {ref}" for s, ref, _ in sides))
        judge = record.judge if len(sides) == 2 else None  # submit refuses a judge without a base
        # a generation pass and a loss pass per row and side, and a question per row to the judge
        total = 2 * len(rows) * len(sides) + (len(rows) if judge else 0)
        move(JobStatus.RUNNING, total=total, done=0)
        spec = FineTuneSpec().replace(record.model_defaults, source="model defaults")

        from .eval_score import score_model

        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            if done % 4 == 0 or done == total:
                move(None, done=done)

        results: dict[str, list] = {}
        for side, ref, path in sides:
            log(f"{side} {ref}: generating replies and scoring the assistant tokens")
            move(None, phase=f"{side} {ref}")
            scores, per_row = score_model(ref, path or "", rows, spec, max_new_tokens=record.max_new_tokens, log=log, step=step)
            results[side] = per_row
            current = store.get_eval(name)
            earlier = current.scores if isinstance(current, EvalRecord) else {}
            move(None, scores={**earlier, side: scores})
            log(
                f"{side} {ref}: loss {scores.loss:.4f}, exact match {scores.exact_matches}/{scores.rows}, "
                f"contains {scores.contains_matches}/{scores.rows}, ROUGE-L {scores.rouge_l:.3f}, chrF {scores.chrf:.3f}"
            )
        verdicts: list[RowVerdict] = []
        if judge is not None:
            log(f"judge {judge.endpoint}: asking which answer is closer to the reference, row by row")
            move(None, phase=f"judge {judge.endpoint}")
            verdicts = _judge(paths, store, judge.endpoint, rows, results, step)
            judge = dataclasses.replace(judge, counts=count(verdicts))
            move(None, judge=judge)
            log(judge.line)
        rows_path = _write_rows(folder / ROWS_NAME, rows, results, verdicts)
        move(JobStatus.COMPLETED, done=total, phase="done", rows_path=str(rows_path), ended_at=time.time(), error=None)
        log(f"evaluation completed; per-row results in {rows_path}")
        return 0
    except JobCanceled:
        log("canceled: stopping now")
        return EXIT_CANCELED
    except BaseException as exc:  # every failure becomes a Failed evaluation with a one-line reason
        from .train import describe_failure

        reason = describe_failure(exc)
        log.raw(traceback.format_exc())
        log(f"evaluation failed: {reason}")
        try:
            store.update_eval_if(name, ACTIVE_STATUSES, status=JobStatus.FAILED.value, error=reason, ended_at=time.time())
        except Exception as store_exc:  # the store failing must not hide the reason in the log
            log(f"could not record the failure: {store_exc}")
        return 1
    finally:
        log.close()


def _judge(
    paths: WorkspacePaths, store: Store, endpoint: str, rows: list, results: dict[str, list], step: Callable[[], None]
) -> list[RowVerdict]:
    """Each row's verdict; an endpoint that is gone or stopped by now makes every row an error, not the run."""
    from ..errors import FinetuiError
    from .endpoints import LocalEndpoints
    from .evals import open_judge

    try:
        client = open_judge(LocalEndpoints(paths, store, registry=None), endpoint)
    except FinetuiError as exc:
        line = str(exc).splitlines()[0]
        return [RowVerdict("error", "model" if model_is_a(i) else "base", error=line) for i in range(len(rows))]
    return judge_rows(client, rows, [r.reply for r in results["model"]], [r.reply for r in results["base"]], step)


def _write_rows(path: Path, rows: list, results: dict[str, list], verdicts: list[RowVerdict]) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i, (prompt, reference) in enumerate(rows):
            out = {"row": i + 1, "prompt": prompt, "reference": reference}
            for side, per_row in results.items():
                r = per_row[i]
                out[side] = {
                    "reply": r.reply,
                    "exact": r.exact,
                    "contains": r.contains,
                    "rouge_l": r.rouge_l,
                    "chrf": r.chrf,
                    "loss": r.loss_sum / r.tokens if r.tokens else None,
                    "tokens": r.tokens,
                }
            if verdicts:
                out["judge"] = dataclasses.asdict(verdicts[i])
            fh.write(json.dumps(out, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    return detached_main(argv, "finetui.core.local.eval_runner", "eval", "evaluation", Store.get_eval, run_eval)


if __name__ == "__main__":
    sys.exit(main())
