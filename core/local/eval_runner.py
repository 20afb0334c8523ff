"""The detached evaluation process: ``python -m finetui.core.local.eval_runner --workspace WS --eval NAME``.

Started by EvalManager in its own session with its output appended to
``evals/<name>/log.txt``. It scores the model, then its base, moving the
record through Preparing, Running and Completed (or Failed with one line),
each change guarded so a ``Canceled`` written by ``eval cancel`` stands.
Signals are handled as the job runner handles them (SIGTERM cancels, SIGHUP
and SIGINT are ignored). Per-row results are written whole, then renamed into
place, so a reader never sees half of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

from .runner import EXIT_CANCELED, JobCanceled, install_signal_handlers  # sets the offline and OpenMP environment first

from ..evaluate import split_row  # noqa: E402
from ..models import ACTIVE_STATUSES, JobStatus  # noqa: E402
from ..workspace import WorkspacePaths  # noqa: E402
from .evals import LOG_NAME, ROWS_NAME, EvalStore  # noqa: E402
from .metrics import JobLog  # noqa: E402
from .store import Store  # noqa: E402


def run_eval(workspace: Path, name: str) -> int:
    paths = WorkspacePaths(workspace)
    store = Store(paths.db)
    records = EvalStore(store)
    record = records.get(name)
    if record is None:
        print(f"finetui eval runner: no evaluation named {name!r} in {workspace}", file=sys.stderr)
        return 2
    folder = paths.root / "evals" / name
    log = JobLog(folder / LOG_NAME)

    def move(status: JobStatus | None, **changes: object) -> None:
        if status is not None:
            changes["status"] = status.value
        if records.update_if(name, ACTIVE_STATUSES, **changes) is None:
            raise JobCanceled()  # canceled (or ended) by someone else: stop here

    try:
        move(JobStatus.PREPARING, pid=os.getpid(), started_at=time.time(), phase="loading the test rows")
        from ..spec import FineTuneSpec
        from .train import _quiet_libraries, read_messages

        _quiet_libraries()
        conversations = read_messages(record["test_file"])
        rows = [r for r in (split_row(c["messages"]) for c in conversations) if r is not None]
        if record.get("max_rows"):
            rows = rows[: record["max_rows"]]
        if not rows:
            raise ValueError(f"{record['test_file']}: no row ends with an assistant reply to compare against")
        sides = [(side, record[side], record[f"{side}_path"]) for side in ("model", "base") if record.get(side)]
        log(f"evaluation {name}: {len(rows)} rows of {record['test_file']}; " + ", ".join(f"{s} {ref}" for s, ref, _ in sides))
        total = 2 * len(rows) * len(sides)  # a generation pass and a loss pass per row and side
        move(JobStatus.RUNNING, total=total, done=0)
        spec = FineTuneSpec().replace(record.get("model_defaults") or {}, source="model defaults")

        from .eval_score import score_model

        done = 0
        results: dict[str, list] = {}
        for side, ref, path in sides:
            log(f"{side} {ref}: generating replies and scoring the assistant tokens")
            move(None, phase=f"{side} {ref}")

            def step() -> None:
                nonlocal done
                done += 1
                if done % 4 == 0 or done == total:
                    move(None, done=done)

            scores, per_row = score_model(ref, path, rows, spec, max_new_tokens=int(record.get("max_new_tokens") or 64),
                                          log=log, step=step)
            results[side] = per_row
            current = records.get(name) or {}
            move(None, scores={**current.get("scores", {}), side: dataclasses.asdict(scores)})
            log(f"{side} {ref}: loss {scores.loss:.4f}, exact match {scores.exact_matches}/{scores.rows}, "
                f"contains {scores.contains_matches}/{scores.rows}, ROUGE-L {scores.rouge_l:.3f}, chrF {scores.chrf:.3f}")
        rows_path = _write_rows(folder / ROWS_NAME, rows, results)
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
            records.update_if(name, ACTIVE_STATUSES, status=JobStatus.FAILED.value, error=reason, ended_at=time.time())
        except Exception as store_exc:  # the store failing must not hide the reason in the log
            log(f"could not record the failure: {store_exc}")
        return 1
    finally:
        log.close()
        store.close()


def _write_rows(path: Path, rows: list, results: dict[str, list]) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i, (prompt, reference) in enumerate(rows):
            out = {"row": i + 1, "prompt": prompt, "reference": reference}
            for side, per_row in results.items():
                r = per_row[i]
                out[side] = {"reply": r.reply, "exact": r.exact, "contains": r.contains, "rouge_l": r.rouge_l, "chrf": r.chrf,
                             "loss": r.loss_sum / r.tokens if r.tokens else None, "tokens": r.tokens}
            fh.write(json.dumps(out, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetui.core.local.eval_runner")
    parser.add_argument("--workspace", required=True, type=Path)
    parser.add_argument("--eval", required=True)
    args = parser.parse_args(argv)
    install_signal_handlers()
    warnings.simplefilter("ignore", FutureWarning)
    try:
        return run_eval(args.workspace.expanduser().resolve(), args.eval)
    except JobCanceled:
        return EXIT_CANCELED


if __name__ == "__main__":
    sys.exit(main())
