"""Screenshots of every pane, from the real app on a demo workspace.

    python -m finetui.tui.screenshots [--workspace DIR] [--out screenshots]

Without --workspace (or FINETUI_WORKSPACE) the offline demo is built in a temp
dir first. Writes ``<out>/<pane>.svg``, ``metrics.svg``, ``checkpoints.svg`` and, when an endpoint
is up in the workspace, ``chat.svg`` (a two-turn chat with it); and, where
``rsvg-convert`` is installed (Debian: librsvg2-bin), a PNG of each. Keys stay masked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from finetui.core.errors import BackendUnavailable

SIZE = (120, 40)
SETTLE_S = 1.5
CHAT_WAIT_S = 120.0


def demo_workspace(root: Path) -> Path:
    from finetui.core.backend import get_backend

    backend = get_backend("local", workspace=root)
    backend.build_demo(lambda text, fraction: print(f"demo: {text}", file=sys.stderr))
    return root


async def capture(workspace: Path, out: Path) -> list[Path]:
    """Every pane, the Metrics tab, and (when the workspace has an endpoint up) a chat while it streams."""
    from finetui.core.backend import get_backend

    from .app import FinetuiApp
    from .pane_table import PANES
    from .widgets.chat import ChatConsole

    app = FinetuiApp(lambda: get_backend("local", workspace=workspace), workspace=str(workspace), poll_interval=None)
    written: list[Path] = []

    def shot(name: str) -> None:
        path = out / f"{name}.svg"
        app.save_screenshot(path.name, str(out))
        written.append(path)

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(SETTLE_S)
        for i, (pid, _, _) in enumerate(PANES):
            await pilot.press(str(i + 1))
            await pilot.pause(SETTLE_S)
            if pid == "data":
                await pilot.press("end")
                await pilot.pause(0.3)
            shot(pid)
            if pid == "jobs":
                await pilot.press("m")
                await pilot.pause(SETTLE_S)
                shot("metrics")
                await pilot.press("c")
                await pilot.pause(SETTLE_S)
                shot("checkpoints")
        endpoints = app.pane("endpoints")
        if endpoints.running_endpoints():
            endpoints.query_one("#endpoint-table").focus()
            console = endpoints.query_one(ChatConsole)
            await pilot.press("i", *"Do you know what the capital of Ardovia is?", "enter")
            await until(pilot, lambda: len(console.messages) == 2)
            # a conversation under way: the demo model answers in well under a second, so
            # a frame mid-stream cannot be caught reliably; the second turn shows the history kept
            await pilot.press(*"And the capital of Mordavia?", "enter")
            await until(pilot, lambda: len(console.messages) == 4)
            shot("chat")
        else:
            print("no endpoint up in this workspace: no chat screenshot", file=sys.stderr)
    return written


async def until(pilot, condition, timeout: float = CHAT_WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.01)


def to_png(svgs: list[Path]) -> list[Path]:
    tool = shutil.which("rsvg-convert")
    if tool is None:
        print("rsvg-convert not found (apt-get install librsvg2-bin): SVG only", file=sys.stderr)
        return []
    pngs = []
    for svg in svgs:
        png = svg.with_suffix(".png")
        subprocess.run([tool, str(svg), "-o", str(png)], check=True)
        pngs.append(png)
    return pngs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetui.tui.screenshots")
    parser.add_argument("--workspace", default=os.environ.get("FINETUI_WORKSPACE"))
    parser.add_argument("--out", default="screenshots")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        if args.workspace:
            workspace = Path(args.workspace).expanduser().resolve()
        else:
            tmp = Path(tempfile.mkdtemp(prefix="finetui-shots-"))
            try:
                workspace = demo_workspace(tmp / "workspace")
            except BackendUnavailable as exc:  # the local engine (torch, transformers) is an optional extra
                print(f"error: {exc}; or pass --workspace", file=sys.stderr)
                return 1
        svgs = asyncio.run(capture(workspace, out))
        for path in svgs + to_png(svgs):
            print(path)
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
