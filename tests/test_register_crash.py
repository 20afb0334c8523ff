"""`model register` under crashes, a full disk and concurrency, through the real CLI in subprocesses.

A register is killed (SIGKILL) at the copy and at the final rename by the
fault points in ``core/faults.py``: the process writes a marker file there and
blocks until killed. The next register must sweep what it left, reuse the
version number it did not finish, and accept ``--version N`` for it.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import REPO, finetui_json

from finetui.core.local.records import JobRecord
from finetui.core.local.store import insert_registered

JOB = "j1"


@pytest.fixture
def ws(tmp_path):
    """A workspace with one Completed job whose output is a small MLflow model folder."""
    from finetui.core.local.store import Store
    from finetui.core.workspace import WorkspacePaths

    paths = WorkspacePaths(tmp_path / "ws").ensure()
    out = paths.job_dir(JOB) / "outputs" / "mlflow_model"
    (out / "model").mkdir(parents=True)
    (out / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    for i in range(4):
        (out / "model" / f"part{i}.bin").write_bytes(os.urandom(4096))
    store = Store(paths.db)
    store.put_job(
        JobRecord.from_dict(
            {
                "name": JOB,
                "display_name": JOB,
                "status": "Completed",
                "backend": "local",
                "model": "tiny:1",
                "train_file": str(tmp_path / "train.jsonl"),
                "test_file": None,
                "spec": {},
                "created_at": time.time(),
                "output_path": str(out),
                "job_dir": str(paths.job_dir(JOB)),
            }
        )
    )
    store.close()
    return paths.root


def _start(ws: Path, *args: str, pause_at: str | None = None, marker: Path | None = None, fail_at: str | None = None):
    env = dict(os.environ)
    env.pop("FINETUI_WORKSPACE", None)
    if pause_at:
        env.update(FINETUI_TEST_PAUSE_AT=pause_at, FINETUI_TEST_PAUSE_MARKER=str(marker))
    if fail_at:
        env["FINETUI_TEST_FAIL_AT"] = fail_at
    return subprocess.Popen(
        [sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(ws), "model", "register", "--job", JOB, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _paused(ws: Path, tmp_path: Path, point: str, *args: str) -> subprocess.Popen:
    """A register blocked at ``point``: its marker file is written, it has not gone past it."""
    marker = tmp_path / f"marker-{point}-{time.time_ns()}"
    proc = _start(ws, *args, pause_at=point, marker=marker)
    deadline = time.monotonic() + 180
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"register ended ({proc.returncode}) before reaching {point}: {out} {err}")
        assert time.monotonic() < deadline, f"register never reached {point}"
        time.sleep(0.05)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def _staging(ws: Path) -> list[Path]:
    return sorted((ws / "registry").glob(".staging-*"))


def _versions(ws: Path) -> list[str]:
    return [m["version"] for m in finetui_json(ws, "model", "list", "--filter", "m") if m["name"] == "m"]


def _register(ws: Path, *args: str) -> str:
    return finetui_json(ws, "model", "register", "--job", JOB, "--name", "m", *args)["version"]


def test_kill_during_copy_is_swept_but_a_live_copy_is_not(ws, tmp_path):
    dead = _paused(ws, tmp_path, "register.copy", "--name", "m")
    [partial] = _staging(ws)
    assert any(p.is_file() for p in partial.rglob("*"))  # killed mid-copy: some files, not all
    _kill(dead)

    live = _paused(ws, tmp_path, "register.copy", "--name", "m")
    try:
        assert _register(ws) == "1"  # the dead copy's number is not burned
        left = _staging(ws)
        assert partial not in left, "the killed register's staging folder was not swept"
        assert len(left) == 1, "the register still copying lost its staging folder"
    finally:
        _kill(live)
    assert _register(ws) == "2"
    assert _staging(ws) == []
    assert _versions(ws) == ["1", "2"]


def test_kill_at_the_final_rename_burns_no_version_and_version_n_works(ws, tmp_path):
    _kill(_paused(ws, tmp_path, "register.rename", "--name", "m"))
    assert (ws / "registry" / "m" / "1").is_dir()  # renamed in, but its row was never committed
    assert _versions(ws) == []
    assert _register(ws) == "1"
    assert sorted(p.name for p in (ws / "registry" / "m").iterdir()) == ["1"]

    _kill(_paused(ws, tmp_path, "register.rename", "--name", "m", "--version", "7"))
    assert _register(ws, "--version", "7") == "7"
    assert _register(ws) == "8"
    assert _versions(ws) == ["1", "7", "8"]
    assert _staging(ws) == []


def test_leftovers_of_an_interrupted_register_are_swept(ws, tmp_path):
    """What a register killed after its insert used to leave: a path-less row and a staging folder."""
    from finetui.core.local.store import Store

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = ws / "registry" / f".staging-{gone.pid}-{time.time_ns()}"
    (stale / "model").mkdir(parents=True)
    (stale / "MLmodel").write_text("flavors: {}\n")
    store = Store(ws / "finetui.db")
    with store.transaction() as db:
        insert_registered(db, {"name": "m", "path": "", "job": JOB, "created_at": time.time()}, 2)
    store.close()

    assert _register(ws, "--version", "2") == "2"
    assert _register(ws) == "3"
    assert not stale.exists()
    assert _versions(ws) == ["2", "3"]


def test_a_full_disk_leaves_one_line_and_nothing_behind(ws):
    proc = _start(ws, "--name", "m", fail_at="register.copy:ENOSPC")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, (out, err)
    assert err.count("\n") == 1 and "no space left" in err and str(ws / "registry") in err, err
    assert "Traceback" not in err
    assert _staging(ws) == [] and not (ws / "registry" / "m").exists()
    assert _register(ws) == "1"


def test_concurrent_registers_get_unique_versions(ws):
    procs = [_start(ws, "--name", "m") for _ in range(6)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    assert sorted(int(out.strip().rpartition(":")[2]) for out, _ in outputs) == [1, 2, 3, 4, 5, 6]
    assert _staging(ws) == []


def test_registered_versions_are_read_only_all_the_way_down(ws):
    _register(ws)
    root = ws / "registry" / "m" / "1"
    modes = {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    assert modes == {".": 0o555, "MLmodel": 0o444, "model": 0o555, **{f"model/part{i}.bin": 0o444 for i in range(4)}}
    # finetui's own clean-up can still remove a read-only version
    from finetui.core.local.registry_files import remove_tree

    remove_tree(root)
    assert not root.exists()
