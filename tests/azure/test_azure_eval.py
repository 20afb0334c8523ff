"""Issue 15 on Azure: the model_evaluation step's results, the job's metrics, and `job wait`.

The real SDK runs against the stateful fake: run history for the steps, the
workspace's MLflow tracking server (REST) for each step run's metrics.
"""

from __future__ import annotations

import json
import logging

import pytest
from finetui.core.azure.client import OUTPUT_LOGGER
from finetui.core.backend import JobRequest
from finetui.core.errors import Conflict, OperationFailed
from finetui.core.models import JobStatus

# what the chat-completion evaluation logs on its step run, and the finetune step's curve
EVAL_METRICS = {"bleu_4": 0.21, "rouge1": 0.48, "rougeL": 0.44, "perplexities_mean": 6.5}
CURVE = [(10, 1.9, 2.0, 0.5), (20, 1.2, 1.4, 1.0), (30, 0.8, 1.1, 1.5)]  # step, loss, eval_loss, epoch


def _log_run(fake, job: str) -> None:
    for step, loss, eval_loss, epoch in CURVE:
        for key, value in (("loss", loss), ("eval_loss", eval_loss), ("epoch", epoch)):
            fake.log_metric(f"{job}-finetune", key, value, step)
    for key, value in EVAL_METRICS.items():
        fake.log_metric(f"{job}-model_evaluation", key, value, 0)


def _submit(backend, chat_files) -> str:
    train, test = chat_files
    return backend.submit_job(
        JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
    ).name


def test_evaluation_step_metrics_and_training_metrics(backend, fake, chat_files):
    job = _submit(backend, chat_files)
    fake.advance(job, "Running")
    fake.run_steps(job, "finetune", "Running")
    with pytest.raises(Conflict, match=f"job {job} is Running and its model_evaluation step has not started yet"):
        backend.job_evaluation(job)
    fake.run_steps(job, "model_evaluation", "Running")
    with pytest.raises(Conflict, match="its model_evaluation step is Running, no results yet"):
        backend.job_evaluation(job)

    _log_run(fake, job)
    # the registry's spec names the step that logs the scores compute_metrics
    fake.runs[f"{job}-model_evaluation"]["displayName"] = "compute_metrics"
    fake.run_steps(job, "model_evaluation")
    fake.advance(job, "Completed")
    found = backend.job_evaluation(job)
    assert (found.job, found.model, found.status, found.step_status) == (
        job,
        "Phi-3-mini-4k-instruct:7",
        JobStatus.COMPLETED,
        JobStatus.COMPLETED,
    )
    assert found.step == f"{job}-model_evaluation"
    assert found.metrics == EVAL_METRICS
    assert (found.training, found.training_step) == ({"eval_loss": 1.1, "loss": 0.8}, 30)
    # read from the tracking server with a bearer token, each step's own run
    asked = {r.query.get("run_id") for r in fake.requests if "/mlflow/" in r.path}
    assert asked == {f"{job}-finetune", f"{job}-model_evaluation"}
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in fake.requests if "/mlflow/" in r.path)
    # and the job's training metrics, with epochs, through the same server
    points = backend.job_metrics(job)
    assert [(p.step, p.name, p.value, p.epoch) for p in points if p.name == "eval_loss"] == [
        (10, "eval_loss", 2.0, 0.5),
        (20, "eval_loss", 1.4, 1.0),
        (30, "eval_loss", 1.1, 1.5),
    ]


def test_failed_evaluation_and_jobs_that_never_reached_it(backend, fake, chat_files):
    failed_eval = _submit(backend, chat_files)
    fake.run_steps(failed_eval, "model_evaluation", "Failed", error="test_file_path: no column 'messages'")
    fake.advance(failed_eval, "Failed")
    with pytest.raises(OperationFailed) as caught:
        backend.job_evaluation(failed_eval)
    assert str(caught.value) == f"job {failed_eval}: step model_evaluation failed: test_file_path: no column 'messages'"

    failed_train = _submit(backend, chat_files)
    fake.run_steps(failed_train, "finetune", "Failed", error="CUDA out of memory.")
    fake.advance(failed_train, "Failed")
    with pytest.raises(OperationFailed) as caught:
        backend.job_evaluation(failed_train)
    assert str(caught.value) == (
        f"job {failed_train} ended Failed before its model_evaluation step ran: step finetune failed: CUDA out of memory."
    )
    assert "\n" not in str(caught.value)

    no_eval_step = _submit(backend, chat_files)  # recent pipeline versions run none
    del fake.runs[f"{no_eval_step}-model_evaluation"]
    fake.run_steps(no_eval_step, "finetune")
    fake.advance(no_eval_step, "Completed")
    with pytest.raises(OperationFailed) as caught:
        backend.job_evaluation(no_eval_step)
    assert str(caught.value) == (
        f"job {no_eval_step} Completed without an evaluation step (this chat_completion_pipeline "
        f"version runs none); its training metrics: `finetui job metrics {no_eval_step}`"
    )


def test_a_tracking_server_refusal_leaves_the_metrics_out_with_the_mapped_reason(backend, fake, chat_files, caplog):
    job = _submit(backend, chat_files)
    fake.run_steps(job, "finetune", "Running")
    _log_run(fake, job)
    sdk_log = logging.getLogger(OUTPUT_LOGGER)
    sdk_log.addHandler(caplog.handler)  # the backend sends this logger to its own handler only
    try:
        # a 503 is retried by the SDK pipeline's policy: nothing is lost
        fake.fail("GET", r"/mlflow/metrics/get-history$", 503, "ServiceUnavailable", "busy")
        assert len(backend.job_metrics(job)) == 6  # loss and eval_loss at 3 steps, with their epochs
        assert sum("/get-history" in r.path for r in fake.requests) == 4  # 3 keys, one of them twice
        assert not caplog.records
        # refused, or still failing after the retries: the job's views go on without metrics, and say why
        fake.fail("GET", r"/mlflow/runs/get$", 403, "AuthorizationFailed", "no read on runs")
        assert backend.job_metrics(job) == []
        fake.fail("GET", r"/mlflow/runs/get$", 500, "InternalServerError", "tracking store down", times=5)
        assert backend.job_metrics(job) == []
    finally:
        sdk_log.removeHandler(caplog.handler)
    where = backend.client.where()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            f"FakeCredential may not read the metrics of run {job}-finetune in {where} (403 AuthorizationFailed): "
            "no read on runs (ask an owner for the 'AzureML Data Scientist' role on the workspace)",
        ),
        (logging.WARNING, f"Azure failed to read the metrics of run {job}-finetune in {where} (500): tracking store down"),
    ]


def test_deploy_gate_shows_the_jobs_evaluation(backend, fake, chat_files):
    job = _submit(backend, chat_files)
    _log_run(fake, job)
    fake.run_steps(job, "model_evaluation")
    fake.advance(job, "Completed")
    backend.register_model(job, "phi3-ft", "1")
    gate = backend.evaluation_gate("phi3-ft:1")
    assert (gate.model, gate.evaluation, gate.improved, gate.warn, gate.metrics) == ("phi3-ft:1", job, None, True, EVAL_METRICS)
    assert gate.message == (
        f"phi3-ft:1: job {job}'s evaluation step scored it bleu_4 0.2100, perplexities_mean 6.5000, "
        "rouge1 0.4800, rougeL 0.4400; the pipeline does not score its base, "
        "so nothing says it beat it"
    )

    failed = _submit(backend, chat_files)
    fake.run_steps(failed, "model_evaluation", "Failed", error="no column 'messages'")
    fake.advance(failed, "Failed")
    fake.add_workspace_model("phi3-ft", "2", {"finetui.job": failed})  # registered by hand from the step's output
    gate = backend.evaluation_gate("phi3-ft:2")
    assert (gate.warn, gate.metrics) == (True, {})
    assert gate.message == f"phi3-ft:2 has no evaluation: job {failed}: step model_evaluation failed: no column 'messages'"

    fake.add_workspace_model("uploaded", "1", path="azureml://datastores/workspaceblobstore/paths/m")
    assert backend.evaluation_gate("uploaded:1") is None  # not from a job: nothing to show


def _cli_job(azure_cli) -> str:
    azure_cli.write_chat("train_sft.jsonl")
    return azure_cli.submit(test="train_sft.jsonl")["name"]


def test_eval_show_of_an_azure_job(azure_cli):
    fake = azure_cli.fake
    job = _cli_job(azure_cli)
    fake.advance(job, "Running")
    early = azure_cli.run("eval", "show", job)
    assert early.returncode == 1, early.stderr
    assert early.stderr == (
        f"error: job {job} is Running and its model_evaluation step has not started yet "
        f"(`finetui job wait {job}`, then try again)\n"
    )
    rows = azure_cli.run("eval", "show", job, "--rows")
    assert rows.returncode == 2
    assert rows.stderr == "error: --rows: the azure backend keeps no per-row results of a job's evaluation\n"
    missing = azure_cli.run("eval", "show", "no_such_job")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr

    _log_run(fake, job)
    fake.run_steps(job, "model_evaluation")
    fake.advance(job, "Completed")
    shown = azure_cli.json("eval", "show", job)
    assert shown["metrics"] == EVAL_METRICS and shown["training"] == {"eval_loss": 1.1, "loss": 0.8}
    assert (shown["job"], shown["step_status"], shown["training_step"]) == (job, "Completed", 30)
    human = azure_cli.run("eval", "show", job)
    assert human.returncode == 0, human.stderr
    assert f"job {job} (Completed): step {job}-model_evaluation Completed" in human.stdout
    assert any(line.split() == ["bleu_4", "0.2100"] for line in human.stdout.splitlines()), human.stdout
    assert "training, last values (step 30): eval_loss 1.1, loss 0.8" in human.stdout

    # the deploy gate: endpoint create shows what the registered model's job measured
    azure_cli.json("model", "register", "--job", job, "--name", "phi3-ft", "--version", "1")
    created = azure_cli.run("endpoint", "create", "ep1", "--model", "phi3-ft:1", "--json")
    assert created.returncode == 0, created.stderr
    gate = json.loads(created.stdout)["evaluation"]
    assert (gate["evaluation"], gate["metrics"], gate["warn"], gate["improved"]) == (job, EVAL_METRICS, True, None)
    assert f"warning: phi3-ft:1: job {job}'s evaluation step scored it bleu_4 0.2100," in created.stderr


def test_job_wait_on_azure_exit_codes(azure_cli):
    fake = azure_cli.fake
    done = _cli_job(azure_cli)
    fake.script(done, "Queued", "Running", "Running", "Completed")
    waited = azure_cli.run("job", "wait", done, "--json")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "Completed"
    assert fake.job_script[done] == []  # it polled through every status the service reported

    failed = _cli_job(azure_cli)
    fake.run_steps(failed, "finetune", "Failed", error="CUDA out of memory.")
    fake.script(failed, "Running", "Failed")
    waited = azure_cli.run("job", "wait", failed)
    assert waited.returncode == 1, waited.stderr
    assert waited.stdout.startswith(f"job {failed} Failed: step finetune failed: CUDA out of memory.")

    still = _cli_job(azure_cli)
    fake.advance(still, "Running")
    waited = azure_cli.run("job", "wait", still, "--timeout", "0")
    assert waited.returncode == 1
    assert waited.stderr == f"error: job {still} is still Running after 0 s\n"

    unknown = azure_cli.run("job", "wait", "no_such_job")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: ") and unknown.stderr.count("\n") == 1
