"""Errors through the real CLI: unknown names are bad input (exit 2) and name the workspace searched;
a JSON syntax error reads as one clean sentence on every path that parses user JSON."""

from __future__ import annotations

import json

from cli_helpers import finetui
from model_folders import make_tiny_model


def _one_error(proc) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_unknown_names_exit_2_and_name_the_workspace(tmp_path):
    ws = tmp_path / "ws"
    for args, needle in [
        (("model", "show", "nosuch"), "no model named 'nosuch'"),
        (("job", "show", "nosuch"), "no job named 'nosuch'"),
        (("job", "metrics", "nosuch"), "no job named 'nosuch'"),
        (("model", "register", "--job", "nosuch", "--name", "x"), "no job named 'nosuch'"),
        (("endpoint", "show", "nosuch"), "no endpoint named 'nosuch'"),
        (("endpoint", "delete", "nosuch", "--yes"), "no endpoint named 'nosuch'"),
        # without --yes and with no terminal to ask on: still "does not exist", not "pass --yes"
        (("endpoint", "delete", "nosuch"), "no endpoint named 'nosuch'"),
        (("chat", "nosuch", "--message", "hi"), "no endpoint named 'nosuch'"),
    ]:
        proc = finetui(ws, *args, check=False)
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
        line = _one_error(proc)
        assert needle in line and str(ws.resolve()) in line, (args, line)


def test_endpoint_create_with_an_unknown_model_says_it_once(tmp_path):
    proc = finetui(tmp_path / "ws", "endpoint", "create", "ep-x", "--model", "no-such-model", check=False)
    assert proc.returncode == 2, proc.stderr
    line = _one_error(proc)
    assert "no-such-model" in line and str((tmp_path / "ws").resolve()) in line
    assert line.count("finetui model list") == 1, line
    assert line.count("no-such-model") == 1, line


def test_a_local_endpoint_dry_run_is_refused_alone_before_any_host_warning(tmp_path):
    # --host 0.0.0.0 would warn on a real create; the backend's refusal of --dry-run comes first, and alone
    args = ("endpoint", "create", "ep-x", "--model", "no-such-model", "--host", "0.0.0.0", "--dry-run")
    proc = finetui(tmp_path / "ws", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: endpoint create --dry-run: only --backend azure has an endpoint description to export"
    ]
    # without --dry-run the warning still comes, before anything is created
    proc = finetui(tmp_path / "ws", *args[:-1], check=False)
    assert proc.stderr.splitlines()[0].startswith("warning: host 0.0.0.0 is not loopback"), proc.stderr


# A raw tab inside a JSON string: json's message for it ends in "at" ("Invalid control character at").
TAB_ROW = '{"messages": [{"role": "user", "content": "a\tb"}, {"role": "assistant", "content": "c"}]}\n'
GOOD_ROW = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}) + "\n"


def _tab_file(tmp_path):
    p = tmp_path / "tab.jsonl"
    p.write_text(GOOD_ROW + TAB_ROW, encoding="utf-8")
    return p


def _clean(text: str) -> None:
    assert "Invalid control character at column 45" in text, text
    assert "at at" not in text, text


def test_json_errors_read_once_in_data_show_validate_and_job_submit(tmp_path):
    ws, p = tmp_path / "ws", _tab_file(tmp_path)
    shown = finetui(ws, "data", "show", str(p))
    _clean(shown.stdout)
    validated = finetui(ws, "data", "validate", str(p), check=False)
    assert validated.returncode == 2
    _clean(validated.stdout)

    ref = finetui(ws, "model", "add", str(make_tiny_model(tmp_path / "tiny"))).stdout.strip()
    submitted = finetui(ws, "job", "submit", "--model", ref, "--train", str(p), check=False)
    assert submitted.returncode == 2, submitted.stderr
    _clean(_one_error(submitted))


def test_json_errors_read_once_in_the_apps_row_view_and_a_spec_file(tmp_path):
    from finetui.core.data.jsonl import JsonlIndex
    from finetui.core.errors import InvalidInput

    with JsonlIndex(_tab_file(tmp_path)) as index:  # what the Data pane shows for a row
        while not index.scan():
            pass
        try:
            index.row(1)
        except InvalidInput as exc:
            _clean(str(exc))
        else:
            raise AssertionError("a row with a raw tab parsed")

    spec = tmp_path / "spec.json"
    spec.write_text('{"lora_r": "a\tb"}', encoding="utf-8")
    proc = finetui(tmp_path / "ws", "compute", "check", "x", "--spec", str(spec), check=False)
    assert proc.returncode == 2
    line = _one_error(proc)
    assert "line 1: invalid JSON: Invalid control character at column 14" in line and "at at" not in line


def test_endpoint_delete_at_a_terminal_says_the_name_does_not_exist_without_asking(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    from cli_helpers import REPO

    controller, terminal = pty.openpty()  # stdin is a terminal: the command would ask before deleting
    try:
        os.write(controller, b"n\n")  # an answer waiting, so a command that asks gets one instead of hanging
        env = {k: v for k, v in os.environ.items() if k != "FINETUI_WORKSPACE"}
        proc = subprocess.run(
            [sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(tmp_path / "ws"), "endpoint", "delete", "nosuch"],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=REPO,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 2, proc.stderr
    assert "no endpoint named 'nosuch'" in _one_error(proc)
    assert "delete endpoint nosuch?" not in proc.stdout + proc.stderr
