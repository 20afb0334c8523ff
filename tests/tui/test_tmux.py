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
