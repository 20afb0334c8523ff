"""`finetui chat` driven through stdin (a pipe, and a terminal for Ctrl+D) against a real local endpoint:
/params takes OpenAI's names and keeps the good items of a line, temperature 0 is greedy, an answer cut by
the token limit says so."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from serve_model import build_tiny_phi3

pytestmark = pytest.mark.slow

NAME = "ep-chat"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from finetui.core.errors import NotFound
    from finetui.core.local.backend import LocalBackend

    model = build_tiny_phi3(tmp_path_factory.mktemp("models") / "tiny-phi3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")  # the server inherits it: the CI machine has 2 cores
        backend = LocalBackend(tmp_path_factory.mktemp("ws"))
        backend.catalog.add_path(model, name="tiny-chat")
        backend.endpoints.create(NAME, "tiny-chat")
        yield backend.paths.root
        try:
            backend.endpoints.delete(NAME)
        except NotFound:
            pass


def _argv(ws, *args: str) -> list[str]:
    return [sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(ws), *args]


def _env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    env.pop("FINETUI_WORKSPACE", None)
    return env


def chat(ws, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(_argv(ws, "chat", NAME, *args), input=stdin, capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    return proc


def values(stdout: str) -> list:
    """The JSON values `chat --json` printed, in order: one list per turn, one object per /raw."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(stdout) and stdout[i].isspace():
            i += 1
        if i == len(stdout):
            return out
        value, i = decoder.raw_decode(stdout, i)
        out.append(value)


def test_params_take_openai_names_keep_good_items_and_suggest_keys(ws):
    proc = chat(ws, "/params max_tokens=5 temprature=0.1 top_p=0.5 beams=2\nhello\n/raw\n", "--json")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, proc.stderr
    assert "temprature=0.1" in errors[0] and "did you mean temperature?" in errors[0]
    assert "beams=2" in errors[1] and "did you mean" not in errors[1]
    assert "max_new_tokens=5" in proc.stderr and "top_p=0.5" in proc.stderr  # the good items on the line count
    turn, raw = values(proc.stdout)
    assert turn[0]["stats"]["tokens"] == 5
    sent = raw["request"]["json"]
    assert sent["max_tokens"] == 5 and sent["top_p"] == 0.5 and sent["temperature"] == 0.6


def test_temperature_zero_is_greedy(ws):
    # Azure's /score takes do_sample literally: temperature 0 has to turn it off, or the server samples (or refuses)
    proc = chat(ws, "/params temperature=0 max_new_tokens=8\nhello\n/raw\n/reset\nhello\n", "--protocol", "score", "--json")
    assert "do_sample=False" in proc.stderr
    first, raw, second = values(proc.stdout)
    params = raw["request"]["json"]["input_data"]["parameters"]
    assert params["do_sample"] is False and params["temperature"] == 0
    assert first[0]["answer"] and first[0]["answer"] == second[0]["answer"]  # greedy: the same prompt, the same answer


def test_an_answer_cut_by_the_token_limit_is_flagged(ws):
    # greedy, so the same 4 tokens every run: sampling could draw the end-of-text token early and end with "stop"
    proc = subprocess.run(
        _argv(ws, "chat", NAME, "--message", "hi", "--param", "max_tokens=4", "--param", "temperature=0"),
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 tokens" in proc.stderr and "cut off at the token limit" in proc.stderr
    out = subprocess.run(
        _argv(ws, "chat", NAME, "--message", "hi", "--param", "max_tokens=4", "--param", "temperature=0", "--json"),
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert json.loads(out.stdout)["stats"]["finish_reason"] == "length"


def test_ctrl_d_at_the_prompt_ends_the_line(ws):
    controller, terminal = pty.openpty()  # stdin is a terminal, so the REPL prompts
    try:
        proc = subprocess.Popen(
            _argv(ws, "chat", NAME), stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
        )
        os.close(terminal)
        out = b""
        deadline = time.monotonic() + 120
        while not out.endswith(b"you> "):
            assert time.monotonic() < deadline, out
            if select.select([proc.stdout], [], [], 1)[0]:
                out += os.read(proc.stdout.fileno(), 1024)
        os.write(controller, b"\x04")  # Ctrl+D on an empty line
        rest, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert (out + rest).decode() == "you> \n"
    finally:
        os.close(controller)
