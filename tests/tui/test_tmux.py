"""The real app in a real terminal: tmux runs `finetui`, we press keys and read the screen."""

from __future__ import annotations

import os
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
    run_in_tmux(tmux, f"{env} {shlex.quote(sys.executable)} -m finetui.tui.cli.main "
                      f"--workspace {shlex.quote(str(local_ws.paths.root))}")
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
