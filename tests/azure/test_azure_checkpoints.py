"""Issue 15 on Azure: a job's checkpoints, read from the finetune step's output on the default datastore.

The real SDK (datastore and its secret) and azure-storage-blob (List Blobs,
Get Blob) run against the fake, whose blob container holds what the Trainer
writes into ``pytorch_model_folder``: ``checkpoint-N/`` folders with weights
and ``trainer_state.json``.
"""

from __future__ import annotations

import json

import pytest
from azure_fake import standard_fake
from finetui.core.backend import JobRequest
from finetui.core.errors import AuthError, InvalidInput, Unsupported

NODE_DIR = "/mnt/azureml/cr/j/0a1b/cap/data-capability/wd/pytorch_model_folder"  # where the step saw its output
# step, train loss, eval loss, epoch: evaluations every 10 steps, the best at 20
CURVE = [(10, 1.9, 2.0, 0.5), (20, 1.2, 1.4, 1.0), (30, 0.7, 1.6, 1.5)]


def _history(through: int) -> list[dict]:
    out = []
    for step, loss, eval_loss, epoch in CURVE:
        if step <= through:
            out += [{"step": step, "epoch": epoch, "loss": loss}, {"step": step, "epoch": epoch, "eval_loss": eval_loss}]
    return out


def folder(job: str, step: int) -> str:
    return f"/workspace-container/azureml/{job}-finetune/pytorch_model_folder/checkpoint-{step}/"


def save(fake, job: str, step: int, *, weights: bool = True, state: bytes | None = None) -> None:
    """What the Trainer writes for checkpoint ``step``: weights, optimizer, then (last) its state."""
    root = folder(job, step)
    if weights:
        fake.blobs[root + "adapter_model.safetensors"] = b"\0" * 64
    fake.blobs[root + "optimizer.pt"] = b"\0" * 16
    if state is None:
        epoch = next(e for s, _, _, e in CURVE if s == step)
        state = json.dumps(
            {
                "global_step": step,
                "epoch": epoch,
                "best_model_checkpoint": f"{NODE_DIR}/checkpoint-20" if step >= 20 else f"{NODE_DIR}/checkpoint-10",
                "log_history": _history(step),
            }
        ).encode()
    fake.blobs[root + "trainer_state.json"] = state


def _submit(backend, chat_files) -> str:
    train, test = chat_files
    return backend.submit_job(
        JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
    ).name


def _blob_reads(fake) -> list[str]:
    return [r.path for r in fake.requests if r.method == "GET" and r.path.startswith("/workspace-container/")]


def test_checkpoints_of_an_azure_job_with_losses_and_the_best(backend, fake, chat_files):
    job = _submit(backend, chat_files)
    fake.run_steps(job, "preprocess")
    assert backend.job_checkpoints(job) == []  # the finetune step has not started: nothing to read yet

    fake.run_steps(job, "finetune")
    for step, *_ in CURVE:
        save(fake, job, step)
    save(fake, job, 40, state=b'{"global_st')  # cut off while saving its state
    save(fake, job, 50, weights=False, state=b'{"global_step": 50}')  # and one whose weights are not there
    fake.blob_page_size = 4  # the listing takes several pages
    points = backend.job_checkpoints(job)

    where = f"azureml://datastores/workspaceblobstore/paths/azureml/{job}-finetune/pytorch_model_folder"
    assert [(c.step, c.epoch, c.train_loss, c.eval_loss, c.best, c.path) for c in points] == [
        (10, 0.5, 1.9, 2.0, False, f"{where}/checkpoint-10"),
        (20, 1.0, 1.2, 1.4, True, f"{where}/checkpoint-20"),
        (30, 1.5, 0.7, 1.6, False, f"{where}/checkpoint-30"),
    ]
    # the listing was paged through, with the account key the datastore's secret gave
    listings = [r for r in fake.requests if r.method == "GET" and r.path == "/workspace-container"]
    assert len(listings) >= 3 and all(r.query["prefix"] == f"azureml/{job}-finetune/pytorch_model_folder/" for r in listings)
    assert [bool(r.query.get("marker")) for r in listings][:2] == [False, True]
    assert all(r.headers["Authorization"].startswith("SharedKey fakestore:") for r in listings)
    # one state file read: checkpoint-40's (cut off, so skipped), then checkpoint-30's, whose history covers the rest
    assert _blob_reads(fake) == [folder(job, 40)[:-1] + "/trainer_state.json", folder(job, 30)[:-1] + "/trainer_state.json"]

    # the app re-reads a running job's list on each poll: the datastore's secret is fetched once, not each time
    def secret_reads() -> int:
        return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/listSecrets"))

    before = secret_reads()
    assert backend.job_checkpoints(job) == points
    assert secret_reads() == before


def test_a_storage_refusal_is_one_line_without_the_account_key(backend, fake, chat_files):
    job = _submit(backend, chat_files)
    fake.run_steps(job, "finetune")
    save(fake, job, 10)
    fake.fail("GET", r"^/workspace-container$", 403, "AuthorizationPermissionMismatch", "This request is not authorized.")
    with pytest.raises(AuthError) as caught:
        backend.job_checkpoints(job)
    message = str(caught.value)
    assert "\n" not in message and f"checkpoints of job {job}" in message
    assert "ZmFrZS1hY2NvdW50LWtleQ" not in message  # the datastore's key (fake) stays out of messages


def test_hostile_names_are_refused_before_any_request(backend, fake):
    before = len(fake.requests)
    for bad in ("../x", "a/b", "job\n", ""):
        with pytest.raises(InvalidInput):
            backend.job_checkpoints(bad)
    assert len(fake.requests) == before


def test_registering_a_checkpoint_on_azure_says_what_to_do_instead(backend, fake):
    with pytest.raises(Unsupported) as caught:
        backend.register_checkpoint("job-1", "best", "phi3-ft")
    assert "`finetui --backend azure model register --job job-1 --name phi3-ft`" in str(caught.value)


def test_job_checkpoints_through_the_cli(azure_cli):
    azure_cli.write_chat("train_sft.jsonl")
    job = azure_cli.submit()["name"]
    assert azure_cli.run("job", "checkpoints", job).stdout == f"job {job} has no complete checkpoints yet\n"

    fake = azure_cli.fake
    fake.run_steps(job, "finetune")
    for step, *_ in CURVE:
        save(fake, job, step)
    rows = azure_cli.json("job", "checkpoints", job)
    assert [(r["step"], r["eval_loss"], r["best"]) for r in rows] == [(10, 2.0, False), (20, 1.4, True), (30, 1.6, False)]
    shown = azure_cli.run("job", "checkpoints", job)
    assert shown.returncode == 0
    best = next(line for line in shown.stdout.splitlines() if line.startswith("* "))
    assert best.split()[1:5] == ["20", "1.00", "1.2000", "1.4000"] and best.endswith("checkpoint-20")

    refused = azure_cli.run("model", "register", "--job", job, "--checkpoint", "best", "--name", "phi3-ft")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr


def test_the_fake_lists_only_what_is_under_the_prefix():
    # the fake's List Blobs is what the tests above lean on: prefix, paging and sizes as the service answers them
    from azure_replay import FakeRequest

    fake = standard_fake()
    fake.blobs["/workspace-container/a/1"] = b"xy"
    fake.blobs["/workspace-container/b/1"] = b"z"
    status, _, body = fake.blob_list(
        FakeRequest("GET", "", "", "/workspace-container", {"prefix": "a/"}, {}, b""), "workspace-container"
    )
    assert status == 200 and b"<Name>a/1</Name>" in body and b"b/1" not in body and b"<Content-Length>2<" in body
