"""The real app in a real terminal: tmux runs `finetui`, we press keys and read the screen."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import pytest

# .ci/run installs tmux: in CI a missing tmux is a failure, not a skip.
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux is not installed")


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def press_until(self, key: str, text: str, timeout: float = 60.0) -> str:
        """Press ``key`` until ``text`` shows: a key that lands while the app is still moving focus is lost."""
        deadline = time.monotonic() + timeout
        while True:
            self("send-keys", "-t", "app", key)
            try:
                return self.wait_for(text, timeout=min(5.0, max(0.1, deadline - time.monotonic())))
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen:\n{screen}")
            time.sleep(0.1)


def test_panes_switch_in_tmux(local_ws, tmp_path):
    tmux = Tmux(f"finetui-test-{os.getpid()}")
    env = f"HF_HOME={shlex.quote(str(tmp_path / 'hf'))} TERM=xterm-256color NO_COLOR=1"
    cmd = f"{env} {shlex.quote(sys.executable)} -m finetui.tui.cli.main --workspace {shlex.quote(str(local_ws.paths.root))}"
    tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", cmd)
    try:
        tmux.wait_for("tiny-chat:1")
        tmux("send-keys", "-t", "app", "4")
        screen = tmux.wait_for("step 300/300")
        assert "Launch" in screen
        tmux("send-keys", "-t", "app", "3")
        tmux.wait_for("train.jsonl")
        tmux("send-keys", "-t", "app", "5")
        tmux.wait_for("Endpoint")
        tmux("send-keys", "-t", "app", "2")
        tmux.wait_for("Accelerators")
        tmux("send-keys", "-t", "app", "q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(tmux):
            time.sleep(0.1)
        assert not _alive(tmux), "q did not quit the app"
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)


def _alive(tmux: Tmux) -> bool:
    """The session ends with the app (a server with no session answers with an error)."""
    try:
        return "app" in tmux("list-sessions", "-F", "#{session_name}").split()
    except subprocess.CalledProcessError:
        return False


def run_in_tmux(tmux: Tmux, cmd: str, size: tuple[int, int] = (80, 24)) -> None:
    """Start ``cmd`` in a tmux session; when it ends the pane shows ``EXIT=<status>``."""
    tmux("new-session", "-d", "-s", "app", "-x", str(size[0]), "-y", str(size[1]), f"{cmd}; echo EXIT=$?; sleep 600")


def test_no_color_metrics_tab_does_not_crash(local_ws, tmp_path):
    tmux = Tmux(f"finetui-test-{os.getpid()}-nc")
    env = f"HF_HOME={shlex.quote(str(tmp_path / 'hf'))} TERM=xterm-256color NO_COLOR=1"
    run_in_tmux(
        tmux, f"{env} {shlex.quote(sys.executable)} -m finetui.tui.cli.main --workspace {shlex.quote(str(local_ws.paths.root))}"
    )
    try:
        tmux.wait_for("tiny-chat:1")
        tmux("send-keys", "-t", "app", "4")
        tmux.wait_for("step 300/300")
        tmux("send-keys", "-t", "app", "m")
        screen = tmux.wait_for("eval_loss")
        assert "EXIT=" not in screen
        tmux("send-keys", "-t", "app", "q")
        assert "EXIT=0" in tmux.wait_for("EXIT=")
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)


CRASHY = """
import sys
from finetui.core.backend import register_backend


class Crashy:  # a backend whose name cannot be read: the app fails while showing it
    @property
    def name(self):
        raise RuntimeError("this backend breaks the app")


register_backend("crashy", lambda **options: Crashy())
from finetui.tui.cli.main import main

sys.argv = ["finetui", "--backend", "crashy"]
main()
"""


def test_a_crash_exits_non_zero(tmp_path):
    script = tmp_path / "crashy.py"
    script.write_text(CRASHY)
    tmux = Tmux(f"finetui-test-{os.getpid()}-crash")
    run_in_tmux(tmux, f"TERM=xterm-256color {shlex.quote(sys.executable)} {shlex.quote(str(script))}")
    try:
        screen = tmux.wait_for("EXIT=", timeout=60)
        assert "EXIT=1" in screen, screen
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)


def until(condition, what: str, timeout: float, step: float = 0.5):
    """Wait for ``condition()`` to be truthy (a deadline, not a sleep); return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(step)


@pytest.mark.slow
def test_keyboard_only_flow_at_80x24(demo_backend, tmp_path):
    """demo model -> launch from the form -> follow the log -> register -> deploy from Models (twice: the
    fine-tuned and the base model) -> chat two turns on the second endpoint row -> compare -> delete."""
    tmux = Tmux(f"finetui-test-{os.getpid()}-flow")
    keys = lambda *k: tmux("send-keys", "-t", "app", *k)  # noqa: E731
    text = lambda s: tmux("send-keys", "-t", "app", "-l", s)  # noqa: E731
    env = f"HF_HOME={shlex.quote(str(tmp_path / 'hf'))} TERM=xterm-256color"
    run_in_tmux(
        tmux,
        f"{env} {shlex.quote(sys.executable)} -m finetui.tui.cli.main --workspace {shlex.quote(str(demo_backend.paths.root))}",
    )
    try:
        tmux.wait_for("finetui-demo-base", timeout=60)
        keys("t")  # fine-tune the selected model: the launch form, filled in
        tmux.wait_for("^s Launch", timeout=30)
        tmux.wait_for("train_sft.jsonl", timeout=30)
        keys("C-s")
        job = until(lambda: demo_backend.list_jobs(), "job submitted", 120)[0]
        tmux.wait_for("following", timeout=60)  # the log tab, following the new job's log
        until(lambda: demo_backend.get_job(job.name).status.terminal, "job finished", 1200, step=1.0)
        assert demo_backend.get_job(job.name).status.value == "Completed", demo_backend.get_job(job.name).error
        tmux.wait_for("completed ·", timeout=30)  # the list says so, in words
        keys("r")
        tmux.wait_for("Register the model", timeout=30)
        keys("Enter")
        until(lambda: demo_backend.list_registered(), "model registered", 300)
        # deploy from where the model is: the Models pane, the fine-tuned version first, then the base
        for down in (0, 1):
            keys("1")
            tmux.wait_for("d Deploy", timeout=30)
            tmux.press_until("d", "Deploy which model?")
            if down:
                keys("Down")
            keys("Enter")
            tmux.wait_for("as endpoint:", timeout=30)
            keys("Enter")
            until(lambda: len(demo_backend.list_endpoints()) == down + 1, "endpoint created", 60)
        up = until(
            lambda: [e for e in demo_backend.list_endpoints() if e.state.value == "Succeeded"][1:] or None,
            "two endpoints up",
            900,
            step=1.0,
        )
        assert up
        tmux.wait_for("up ", timeout=30)
        # the second row: chat two turns; polls every 2 s must not wipe the first
        keys("5")
        tmux.wait_for("p Compare", timeout=30)
        name = [e.name for e in demo_backend.list_endpoints()][1]  # the table lists them in this order
        keys("Home", "Down")
        tmux.wait_for(f"Endpoint     {name}\n", timeout=30)  # its details: the cursor is on row 2
        tmux.press_until("i", "^o Settings")  # the message field has the focus
        for turn, message in enumerate(("Hello there", "And again"), start=1):
            text(message)
            keys("Enter")
            tmux.wait_for(f"turn {turn} · first token", timeout=300)
        # "turn 2" counts the user turns the console holds: a poll that had reset the chat would say turn 1
        # the server on row 2 answered (it records requests every few seconds)
        until(lambda: demo_backend.get_endpoint(name).last_request_at, f"{name} answered", 60)
        # compare the two endpoints on one prompt
        keys("Escape")
        tmux.wait_for("p Compare", timeout=30)  # out of the field: the pane's keys again
        tmux.press_until("p", "Compare ")
        keys("Enter")
        tmux.wait_for("prompt for both", timeout=30)
        text("Hi")
        keys("Enter")
        until(lambda: tmux.screen().count("turn 1 · first token") >= 2, "both sides answered", 300)
        keys("Escape")
        tmux.wait_for("p Compare", timeout=30)
        # delete both, each by typing the name the dialog asks for
        for _ in range(2):
            asked = re.search(r"Type (\S+) to delete", tmux.press_until("d", "to delete the endpoint")).group(1)
            text(asked)
            keys("Enter")
            until(lambda: asked not in {e.name for e in demo_backend.list_endpoints()}, f"{asked} deleted", 120)
        keys("q")
        assert "EXIT=0" in tmux.wait_for("EXIT=", timeout=60)
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)
