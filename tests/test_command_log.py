"""The command log: every CLI action is recorded with the finetui line that repeats it.

Each action runs as a real ``finetui`` process; its recorded line is then run
again, from another folder, and must give the same exit status and output.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

from cli_helpers import REPO, finetui, finetui_json
from data_factory import ultrachat_rows, write_jsonl


def _rerun(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(line)
    assert argv[0] == "finetui" and argv[1] == "--workspace"
    env = {k: v for k, v in os.environ.items() if k != "FINETUI_WORKSPACE"}
    return subprocess.run(
        [sys.executable, "-m", "finetui.tui.cli.main", *argv[1:]],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
        timeout=300,
    )


def test_each_noun_recorded_line_reruns_to_the_same_result(tmp_path):
    ws = tmp_path / "ws"
    work = tmp_path / "work"
    work.mkdir()
    write_jsonl(work / "train.jsonl", ultrachat_rows(3))
    actions = [
        ("model", "list", "--json"),
        ("compute", "list", "--json"),
        ("data", "validate", "train.jsonl", "--json"),  # a relative path: the line must not depend on the folder
        ("data", "show", "train.jsonl", "--rows", "1", "--json"),
        ("job", "list", "--json"),
        ("job", "show", "no-such-job"),
        ("endpoint", "list", "--json"),
        ("endpoint", "show", "nosuch"),
        ("chat", "nosuch", "--message", "hi"),
        ("prices", "--json"),
        ("down", "--yes", "--json"),
    ]
    originals = []
    for args in actions:
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        env.pop("FINETUI_WORKSPACE", None)
        originals.append(
            subprocess.run(
                [sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(ws), *args],
                capture_output=True,
                text=True,
                cwd=work,
                env={**env, "PYTHONPATH": str(REPO)},
                timeout=300,
            )
        )
    entries = finetui_json(ws, "history")
    one_word = {"chat", "prices", "down"}
    assert [e["action"] for e in entries] == [a[0] if a[0] in one_word else " ".join(a[:2]) for a in reversed(actions)]
    for entry, args, first in zip(reversed(entries), actions, originals):
        assert entry["backend"] == "local"
        assert entry["exit_code"] == first.returncode
        assert entry["outcome"] == ("ok" if first.returncode == 0 else "bad input" if first.returncode == 2 else "failed")
        again = _rerun(entry["finetui"], tmp_path)  # another folder than the original ran in
        # the recorded line names the data file by its absolute path; the output echoes what it was given
        expected = [t.replace('"train.jsonl"', json.dumps(str(work / "train.jsonl"))) for t in (first.stdout, first.stderr)]
        assert (again.returncode, again.stdout, again.stderr) == (first.returncode, *expected), entry["finetui"]
    data_line = next(e["finetui"] for e in entries if e["action"] == "data validate")
    assert str(work / "train.jsonl") in shlex.split(data_line)


def test_keys_never_reach_the_log_and_the_log_is_private(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    secret = "sk-very-secret-key-123"
    proc = finetui(ws, "chat", "http://127.0.0.1:9/x", "--key", secret, "--message", "hi", check=False)
    assert proc.returncode == 1
    finetui(ws, "chat", "http://127.0.0.1:9/x", "--message", "hi", check=False, env={"FINETUI_ENDPOINT_KEY": secret})
    log = ws / "history.jsonl"
    assert secret not in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    entries = finetui_json(ws, "history")
    assert '--key "$ENDPOINT_KEY"' in entries[1]["finetui"]
    assert any(n.startswith("ENDPOINT_KEY:") for n in entries[1]["notes"])
    assert "--key" not in entries[0]["finetui"]  # a key from the environment is not a command-line value
    text = finetui(ws, "history").stdout
    assert secret not in text and "$ENDPOINT_KEY" in text


def test_history_is_newest_first_and_not_itself_recorded(tmp_path):
    ws = tmp_path / "ws"
    finetui(ws, "model", "list")
    finetui(ws, "job", "list")
    finetui(ws, "history")
    entries = finetui_json(ws, "history")
    assert [e["action"] for e in entries] == ["job list", "model list"]
    assert entries[0]["time"] >= entries[1]["time"]
    assert [e["action"] for e in finetui_json(ws, "history", "--limit", "1")] == ["job list"]


def test_a_torn_line_is_skipped(tmp_path):
    ws = tmp_path / "ws"
    finetui(ws, "job", "list")
    with open(ws / "history.jsonl", "a") as fh:
        fh.write('{"time": 1, "backend": "lo')  # a writer killed mid-line
    finetui(ws, "model", "list")
    assert [e["action"] for e in finetui_json(ws, "history")] == ["model list", "job list"]


def test_export_sh_runs_the_session_again(tmp_path):
    ws = tmp_path / "ws"
    finetui(ws, "job", "list", "--json")
    finetui(ws, "endpoint", "show", "nosuch", check=False)  # failed: left out of the script
    finetui(ws, "endpoint", "list", "--json")
    script = tmp_path / "session.sh"
    out = finetui_json(ws, "history", "--export", str(script))
    assert out == {"path": str(script), "actions": 2}
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "nosuch" not in text and text.startswith("#!/usr/bin/env bash")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "finetui"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m finetui.tui.cli.main "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", PYTHONPATH=str(REPO))
    run = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[]", "[]"]
    # an existing file is never overwritten; a suffix other than .sh/.py is bad input
    again = finetui(ws, "history", "--export", str(script), check=False)
    assert again.returncode == 2 and "exists" in again.stderr
    assert script.read_text() == text
    wrong = finetui(ws, "history", "--export", str(tmp_path / "x.txt"), check=False)
    assert wrong.returncode == 2 and not (tmp_path / "x.txt").exists()


def test_export_py_runs_local_actions(tmp_path):
    ws = tmp_path / "ws"
    finetui(ws, "job", "list", "--json")
    script = tmp_path / "session.py"
    finetui(ws, "history", "--export", str(script))
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO))
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []
