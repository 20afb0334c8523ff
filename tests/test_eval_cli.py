"""``finetui eval``: a fine-tuned model against its base, as a detached job, through the real CLI.

Each command is its own ``finetui`` process; the evaluation runs in a detached
runner that scores with the real model, the training collation and torchmetrics.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from cli_helpers import finetui, finetui_json, wait_for_status
from finetui.core.evaluate import EvalRun, EvalScores, contains_reference, exact_match, gate, split_row
from finetui.core.models import JobStatus


@pytest.mark.slow
def test_finetuned_demo_beats_its_base(trained_ws):
    ws, demo, job, registered = trained_ws
    run = finetui_json(ws, "eval", registered["ref"], "--test", demo["test_file"], "--wait", timeout=900)
    assert run["status"] == "Completed", run
    assert run["model"] == registered["ref"]
    assert run["base"] == f"{demo['model']}:1"  # taken from the registered model's lineage
    mine, base = run["scores"]["model"], run["scores"]["base"]
    print(f"model {mine}\nbase  {base}")
    assert mine["rows"] == base["rows"] == 32 and mine["tokens"] == base["tokens"] > 0
    assert mine["loss"] < base["loss"]
    assert mine["perplexity"] < base["perplexity"]
    assert mine["exact_matches"] > base["exact_matches"]
    assert mine["contains_matches"] >= mine["exact_matches"]
    assert mine["rouge_l"] > base["rouge_l"] and mine["chrf"] > base["chrf"]
    assert run["improved"] is True

    name = run["name"]
    assert name in {r["name"] for r in finetui_json(ws, "eval", "list")}
    shown = finetui_json(ws, "eval", "show", name, "--rows")
    rows = shown["rows"]
    assert len(rows) == 32 and Path(shown["rows_path"]).is_file()
    assert sum(r["model"]["exact"] for r in rows) == mine["exact_matches"]
    assert all(r["prompt"][-1]["role"] == "user" and r["reference"] for r in rows)
    human = finetui(ws, "eval", "show", name).stdout
    assert "beat its base" in human and "exact match" in human and registered["ref"] in human

    # the deploy gate reads the same evaluation
    from finetui.core.local.backend import LocalBackend

    assert LocalBackend(ws).evals.latest_for(registered["ref"]).name == name


@pytest.mark.slow
def test_eval_refuses_bad_input_before_starting(demo_ws, tmp_path):
    ws, demo = demo_ws
    before = finetui_json(ws, "eval", "list")
    cases = [
        (("--test", demo["test_file"], "--max-rows", "0"), "--max-rows"),
        (("--test", str(tmp_path / "missing.jsonl")), "missing.jsonl"),
        (("--test", "/dev/zero"), "/dev/zero"),
        (("--test", demo["test_file"], "--base", "../etc"), "model"),
    ]
    for args, named in cases:
        proc = finetui(ws, "eval", demo["model"], *args, check=False, timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        assert named in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (
        finetui(ws, "eval", "nobody-here", "--test", demo["test_file"], check=False).returncode == 2
    )  # unknown names are bad input
    assert finetui(ws, "eval", "show", "no-such-eval", check=False).returncode == 2
    assert finetui(ws, "eval", "show", "../x", check=False).returncode == 2
    assert finetui_json(ws, "eval", "list") == before  # nothing recorded, nothing started


@pytest.mark.slow
def test_eval_cancel_and_a_killed_runner(demo_ws):
    ws, demo = demo_ws
    args = ("eval", demo["model"], "--base", demo["model"], "--test", demo["train_file"], "--max-new-tokens", "256")
    name = finetui(ws, *args).stdout.strip()
    wait_for_status(ws, "eval", name, {"Running"})
    canceled = finetui_json(ws, "eval", "cancel", name)
    assert canceled["status"] == "Canceled"
    pid = canceled["pid"]
    assert pid and not _alive(pid)
    assert finetui(ws, "eval", "cancel", name, check=False).returncode == 1  # already ended

    name = finetui(ws, *args).stdout.strip()
    run = wait_for_status(ws, "eval", name, {"Running"})
    os.kill(run["pid"], signal.SIGKILL)
    failed = wait_for_status(ws, "eval", name, {"Failed"}, timeout=60)
    assert "ended without finishing" in failed["error"]
    assert finetui(ws, "eval", "show", name).returncode == 0


def _alive(pid: int) -> bool:
    from finetui.core.procs import process_start_time

    return process_start_time(pid) is not None


def _scores(model: str, loss: float | None, exact: int) -> EvalScores:
    return EvalScores(
        model=model,
        rows=10,
        tokens=100,
        loss=loss,
        perplexity=None,
        exact_match=exact / 10,
        exact_matches=exact,
        contains=0.0,
        contains_matches=0,
        rouge_l=0.0,
        chrf=0.0,
    )


def _run(loss: float, base_loss: float | None = None) -> EvalRun:
    """A Completed evaluation of m:1 (6 exact matches), against b:1 when ``base_loss`` is given."""
    scores = {"model": _scores("m:1", loss, 6)}
    if base_loss is not None:
        scores["base"] = _scores("b:1", base_loss, 0)
    return EvalRun(
        name="e",
        status=JobStatus.COMPLETED,
        model="m:1",
        base=None if base_loss is None else "b:1",
        test_file="t",
        created_at=0.0,
        scores=scores,
    )


def test_reply_rules_and_gate():
    assert exact_match("  The capital of X is Y. ", "the capital  of x is y.")
    assert not exact_match("Y", "The capital of X is Y.")
    assert contains_reference("Sure: Y is the capital.", "y is the capital.") and not contains_reference("anything", "")
    assert split_row([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == (
        [{"role": "user", "content": "q"}],
        "a",
    )
    assert split_row([{"role": "user", "content": "q"}]) is None

    assert gate("m:1", None).warn and "never evaluated" in gate("m:1", None).message
    run = _run(0.5, base_loss=2.0)
    assert run.improved and not gate("m:1", run).warn and "0.5000 vs base 2.0000" in gate("m:1", run).message
    worse = _run(2.5, base_loss=2.0)
    assert gate("m:1", worse).warn and "did not beat" in gate("m:1", worse).message
    alone = _run(2.5)
    assert alone.improved is None and gate("m:1", alone).warn
    assert json.dumps(gate("m:1", run).message)


@pytest.mark.slow
def test_deploy_gate_shows_the_evaluation(trained_ws):
    ws, demo, job, registered = trained_ws
    run = finetui_json(ws, "eval", registered["ref"], "--test", demo["test_file"], "--max-rows", "8", "--wait", timeout=900)
    assert run["status"] == "Completed" and run["improved"] is True
    try:
        proc = finetui(ws, "endpoint", "create", "gate-ft", "--model", registered["ref"], "--no-wait", "--json", timeout=300)
        created = json.loads(proc.stdout)
        assert created["evaluation"]["evaluation"] == run["name"]
        assert created["evaluation"]["improved"] is True and created["evaluation"]["warn"] is False
        assert created["evaluation"]["scores"]["model"]["loss"] < created["evaluation"]["scores"]["base"]["loss"]
        assert "warning" not in proc.stderr
        human = finetui(ws, "endpoint", "create", "gate-base", "--model", demo["model"], "--no-wait", timeout=300)
        assert f"warning: {demo['model']}:1 was never evaluated" in human.stderr
        assert human.stderr.index("warning:") < human.stderr.index("creating endpoint")
    finally:
        for name in ("gate-ft", "gate-base"):
            finetui(ws, "endpoint", "delete", name, "--yes", check=False, timeout=120)


def test_damaged_per_row_results_are_one_line(tmp_path):
    from finetui.core.local.backend import LocalBackend
    from finetui.core.local.records import EvalRecord

    backend = LocalBackend(tmp_path / "ws")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"row": 1, "prompt": [\n', encoding="utf-8")
    backend.store.put_eval(
        EvalRecord.from_dict(
            {
                "name": "eval-x",
                "status": "Completed",
                "model": "m:1",
                "base": None,
                "test_file": "t",
                "created_at": 0.0,
                "scores": {},
                "rows_path": str(rows),
            }
        )
    )
    assert finetui_json(tmp_path / "ws", "eval", "show", "eval-x")["status"] == "Completed"
    proc = finetui(tmp_path / "ws", "eval", "show", "eval-x", "--rows", check=False)
    assert proc.returncode == 1 and "cannot read its per-row results" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    rows.unlink()
    proc = finetui(tmp_path / "ws", "eval", "show", "eval-x", "--rows", check=False)
    assert proc.returncode == 1 and "No such file" in proc.stderr


@pytest.mark.slow
def test_eval_with_a_local_endpoint_as_judge(demo_ws, tmp_path):
    """A real endpoint of the demo model judges: its verdicts are whatever the tiny model says (mostly unclear), so
    this checks the plumbing: every row has a verdict in the allowed set, the counts add up, the prompt is shown,
    and the endpoint's key is in none of the runner's command line, environment, log, record or rows."""
    from finetui.core.eval_judge import JUDGE_PROMPT
    from finetui.core.evaluate import VERDICTS

    ws, demo = demo_ws
    args = ("eval", demo["model"], "--base", demo["model"], "--test", demo["test_file"], "--max-rows", "3")
    for judge, named in (("../x", "--judge: endpoint name"), ("ep-nobody", "ep-nobody")):  # refused before anything runs
        proc = finetui(ws, *args, "--judge", judge, check=False)
        assert proc.returncode == 2 and named in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    finetui(ws, "endpoint", "create", "ep-judge", "--model", demo["model"], timeout=300)
    try:
        alone = finetui(ws, "eval", demo["model"], "--test", demo["test_file"], "--judge", "ep-judge", check=False)
        assert alone.returncode == 2 and "add --base" in alone.stderr, alone.stderr  # nothing to compare with

        key = finetui_json(ws, "endpoint", "keys", "ep-judge")["primary"]
        started = finetui_json(ws, *args, "--judge", "ep-judge")
        assert started["judge"] == {"endpoint": "ep-judge", "prompt": JUDGE_PROMPT, "counts": {}}
        pid = started["pid"]
        for part in ("cmdline", "environ"):  # read while the runner lives: what it was started with
            try:
                seen = Path(f"/proc/{pid}/{part}").read_bytes()
            except FileNotFoundError:
                pytest.fail(f"the evaluation runner {pid} ended before its /proc/{pid}/{part} was read")
            assert key.encode() not in seen, part
        assert b"--judge" not in Path(f"/proc/{pid}/cmdline").read_bytes()

        run = wait_for_status(ws, "eval", started["name"], {"Completed", "Failed"}, timeout=900)
        assert run["status"] == "Completed", run
        counts = run["judge"]["counts"]
        assert list(counts) == list(VERDICTS) and sum(counts.values()) == 3
        rows = finetui_json(ws, "eval", "show", run["name"], "--rows")["rows"]
        assert [r["judge"]["a"] for r in rows] == ["model", "base", "model"]
        assert all(r["judge"]["verdict"] in VERDICTS and len(r["judge"]["reply"]) <= 200 for r in rows)
        assert {v: sum(r["judge"]["verdict"] == v for r in rows) for v in VERDICTS} == counts

        human = finetui(ws, "eval", "show", run["name"], "--rows").stdout
        line = "judge ep-judge: " + ", ".join(f"{v} {counts[v]}" for v in VERDICTS)
        assert line in human and "judge prompt:" in human and "Reply with exactly one word: A, B or tie." in human
        assert human.count("judge prompt:") == 1 and human.count("  judge     ") == 3
        log = Path(ws, "evals", run["name"], "log.txt").read_text(encoding="utf-8")
        assert line in log
        for text in (log, Path(run["rows_path"]).read_text(encoding="utf-8"), json.dumps(run), human):
            assert key not in text
        plain = finetui(ws, "eval", "show", run["name"]).stdout  # without --rows: the line and the prompt, no rows
        assert line in plain and "  judge     " not in plain
    finally:
        finetui(ws, "endpoint", "delete", "ep-judge", "--yes", check=False, timeout=120)
