"""A damaged, read-only or full workspace database through the real CLI: one line, exit 1, never a traceback.

The read-only workspace and the full disk are real: the CLI runs in its own
mount namespace (``unshare -rm``, which needs no root), with the workspace
bind-mounted read-only, or on a tmpfs of a few hundred KiB filled to the
brim. Changing permissions would not do: these tests run as root, which
ignores them. Nothing outside the namespace sees the mounts.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import REPO, finetui, finetui_json, submit

from finetui.core.local.records import JobRecord

READS = (("job", "list"), ("model", "list"), ("endpoint", "list"), ("job", "show", "j1"))


def _workspace(root: Path) -> Path:
    """A workspace holding one job, its files on disk and its database checkpointed (no -wal left)."""
    from finetui.core.local.store import Store
    from finetui.core.workspace import WorkspacePaths

    paths = WorkspacePaths(root).ensure()
    store = Store(paths.db)
    for i in range(40):  # enough rows for the tables to span pages, so a cut loses some
        store.put_job(JobRecord.from_dict(_job_record(f"j{i}", paths.job_dir(f"j{i}"))))
    store.close()
    assert not Path(f"{paths.db}-wal").exists() or Path(f"{paths.db}-wal").stat().st_size == 0
    return root


def _job_record(name: str, job_dir: Path) -> dict:
    return {
        "name": name,
        "display_name": name,
        "status": "Completed",
        "backend": "local",
        "model": "tiny:1",
        "train_file": "/data/train.jsonl",
        "test_file": None,
        "spec": {"learning_rate": 1e-4, "pad": "x" * 400},
        "created_at": time.time(),
        "output_path": None,
        "job_dir": str(job_dir),
    }


def _one_line_failure(proc: subprocess.CompletedProcess, *needles: str) -> None:
    err = proc.stderr
    assert proc.returncode == 1, (proc.returncode, proc.stdout, err)
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("error: "), err
    for needle in needles:
        assert needle in err, err


def _in_namespace(setup: str, ws: Path, *args: str) -> subprocess.CompletedProcess:
    """``finetui --workspace WS ARGS`` after ``setup`` (shell, may mount) in a private mount namespace."""
    cli = shlex.join([sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(ws), *args])
    return subprocess.run(
        ["unshare", "-rm", "sh", "-ec", f"{setup}\nexec {cli}"], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_garbled_database_is_one_line_from_every_command(tmp_path):
    ws = _workspace(tmp_path / "ws")
    db = ws / "finetui.db"
    db.write_bytes(bytes(range(256)) * 64)
    for args in READS:
        _one_line_failure(finetui(ws, *args, check=False), str(db), "not a database", "move it aside")
    assert db.read_bytes() == bytes(range(256)) * 64  # nothing tried to "repair" it


def test_truncated_database_is_one_line(tmp_path):
    ws = _workspace(tmp_path / "ws")
    db = ws / "finetui.db"
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)
    for args in READS:
        _one_line_failure(finetui(ws, *args, check=False), str(db), "not a database")


def test_read_only_workspace_is_one_line(tmp_path):
    ws = _workspace(tmp_path / "ws")
    ro = f"mount --bind {shlex.quote(str(ws))} {shlex.quote(str(ws))}\nmount -o remount,bind,ro {shlex.quote(str(ws))}"
    for args in (("job", "list"), ("job", "cancel", "j1")):
        _one_line_failure(_in_namespace(ro, ws, *args), str(ws / "finetui.db"), "read-only")


def test_full_disk_is_one_line(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    ws = mnt / "ws"
    q = shlex.quote
    full = (
        f"mount -t tmpfs -o size=256k tmpfs {q(str(mnt))}\n"
        f"{shlex.join([sys.executable, '-m', 'finetui.tui.cli.main', '--workspace', str(ws), 'job', 'list'])} >/dev/null\n"
        f"head -c 4M /dev/zero > {q(str(mnt / 'fill'))} 2>/dev/null || true"
    )
    _one_line_failure(_in_namespace(full, ws, "job", "list"), str(ws / "finetui.db"), "no space left")


@pytest.mark.slow
def test_one_malformed_row_affects_only_itself(tmp_path):
    from tiny_model import build_tiny_setup

    tiny = build_tiny_setup(tmp_path / "tiny")
    ws = _workspace(tmp_path / "ws")
    finetui(ws, "model", "add", str(tiny.model_dir), "--name", "tiny")
    with sqlite3.connect(ws / "finetui.db") as db:
        db.execute("INSERT INTO jobs VALUES ('broken-job', 'Running', 0, '{not json')")
        db.execute('INSERT INTO jobs VALUES (\'half-job\', \'Running\', 1, \'{"name": "half-job", "status": "Running"}\')')
        db.execute("INSERT INTO models VALUES ('broken-model', '1', 0, '[1, 2]')")
        db.execute("INSERT INTO registered VALUES ('broken-reg', 1, 0, 'garbage')")
        db.execute("INSERT INTO endpoints VALUES ('broken-ep', 'Succeeded', 0, '{\"name\": \"broken-ep\"}')")
    db.close()

    jobs = {j["name"]: j for j in finetui_json(ws, "job", "list")}
    assert jobs["broken-job"]["status"] == "Damaged" and "damaged" in jobs["broken-job"]["error"]
    assert jobs["half-job"]["status"] == "Damaged"
    assert jobs["j3"]["status"] == "Completed" and len(jobs) == 42
    assert "broken-job" in finetui(ws, "job", "list").stdout
    assert finetui_json(ws, "job", "show", "broken-job")["status"] == "Damaged"
    cancel = finetui(ws, "job", "cancel", "broken-job", check=False)
    assert cancel.returncode == 1 and "Traceback" not in cancel.stderr

    models = {m["name"]: m for m in finetui_json(ws, "model", "list")}
    assert models["broken-model"]["source"] == "damaged" and models["broken-reg"]["source"] == "damaged"
    assert models["tiny"]["source"] != "damaged"
    [ep] = finetui_json(ws, "endpoint", "list")
    assert (ep["name"], ep["state"]) == ("broken-ep", "Damaged")

    name = submit(ws, "tiny", tiny.train_file, "max_steps=1", "num_train_epochs=1").stdout.strip()
    try:
        assert finetui_json(ws, "job", "show", name)["status"] in {"Queued", "Preparing", "Running", "Finalizing", "Completed"}
    finally:
        finetui(ws, "job", "cancel", name, check=False)
    assert json.loads(finetui(ws, "job", "show", name, "--json").stdout)["name"] == name


def test_a_malformed_evaluation_row_affects_only_itself(tmp_path):
    ws = _workspace(tmp_path / "ws")
    assert finetui_json(ws, "eval", "list") == []  # creates the evals table, as any first use does
    with sqlite3.connect(ws / "finetui.db") as db:
        db.execute("INSERT INTO evals VALUES ('broken-eval', 'Running', 'm', 0, '{not json')")
        db.execute("INSERT INTO evals VALUES ('half-eval', 'Completed', 'm', 1, '{\"name\": \"half-eval\"}')")
    db.close()
    runs = {r["name"]: r for r in finetui_json(ws, "eval", "list")}
    assert {runs["broken-eval"]["status"], runs["half-eval"]["status"]} == {"Damaged"}
    assert "damaged" in runs["broken-eval"]["error"]
    for verb in ("show", "cancel"):
        proc = finetui(ws, "eval", verb, "broken-eval", check=False)
        assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 1, proc.stderr


def test_runner_on_a_damaged_database_writes_one_line(tmp_path):
    ws = _workspace(tmp_path / "ws")
    (ws / "finetui.db").write_bytes(b"\x00garbage" * 512)
    proc = subprocess.run(
        [sys.executable, "-m", "finetui.core.local.runner", "--workspace", str(ws), "--job", "j1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1 and "not a database" in proc.stderr


@pytest.mark.slow
def test_job_submit_on_a_full_disk_is_one_line_and_leaves_no_job(tmp_path):
    """The jobs folder on a full tmpfs, the database on a disk with room: the job folder cannot be written."""
    from tiny_model import build_tiny_setup

    tiny = build_tiny_setup(tmp_path / "tiny")
    ws, err = _workspace(tmp_path / "ws"), tmp_path / "err.txt"
    finetui(ws, "model", "add", str(tiny.model_dir), "--name", "tiny")
    before = finetui_json(ws, "job", "list")
    jobs = ws / "jobs"
    cli = shlex.join([sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(ws)])
    q = shlex.quote
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {q(str(jobs))}\n"
        f"head -c 8M /dev/zero > {q(str(jobs / 'fill'))} 2>/dev/null || true\n"
        f"set +e\n{cli} job submit --model tiny --train {q(str(tiny.train_file))} 2>{q(str(err))}\n"
        f"echo rc=$?\nls -A {q(str(jobs))}"
    )
    proc = subprocess.run(["unshare", "-rm", "sh", "-ec", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rc, *left = proc.stdout.split()
    message = err.read_text()
    assert rc == "rc=1", (proc.stdout, message)
    assert message.count("\n") == 1 and "Traceback" not in message and "no space left" in message, message
    assert left == ["fill"]  # no half-made job folder
    assert finetui_json(ws, "job", "list") == before  # and no record
