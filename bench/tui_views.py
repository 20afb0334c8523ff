"""Benchmark the app's large views and its start.

Generates, in a temp dir, a 200,000-row ultrachat-shaped JSONL (~1 GB) and a
1 GB log, then measures, each in a fresh subprocess (so peak RSS is its own):

* Data pane rows (JsonlView over core's JsonlIndex): first page, jump to the
  last row, peak RSS; against ``pandas.read_json(lines=True)`` and a built-in
  ``DataTable`` on a 20,000-row prefix (both load everything first; the full
  file would take minutes and gigabytes), with the ratio extrapolated linearly;
* LogView: time to show the tail of the 1 GB log, and the age of the newest
  line on screen while another process appends 50,000 lines/s;
* time to first frame of ``finetui`` vs an empty Textual app, in a real pty.

Run: ``python bench/tui_views.py [--rows N] [--log-mb N]``. The last line of
output is one JSON object with the figures. Temp files are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts tests/ on the path: the data generator and the one-widget app)

HERE = Path(__file__).resolve()
PY = sys.executable
PAGE = 40


# -- data generation ------------------------------------------------------------------------
def write_ultrachat(path: Path, rows: int, avg_bytes: int = 5000) -> None:
    try:
        from data_factory import write_synthetic_ultrachat  # another area's generator, when present

        write_synthetic_ultrachat(path, rows, avg_bytes)
        return
    except ImportError:
        pass
    rng = random.Random(7)
    words = "the model data train loss token chat user assistant fine tune lora rank epoch batch memory".split()
    paragraphs = [" ".join(rng.choice(words) for _ in range(rng.randint(30, 250))) for _ in range(64)]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            turns = []
            size = 0
            target = avg_bytes * rng.uniform(0.5, 1.5) - 900  # keys, prompt_id and the prompt copy
            while size < target:
                text = paragraphs[rng.randrange(64)]
                turns.append({"role": "user" if len(turns) % 2 == 0 else "assistant", "content": text})
                size += len(text)
            if len(turns) % 2:
                turns.append({"role": "assistant", "content": paragraphs[0]})
            f.write(json.dumps({"prompt": turns[0]["content"], "prompt_id": f"{i:064x}", "messages": turns}) + "\n")


def write_log(path: Path, megabytes: int) -> str:
    block = "".join(
        f"2025-01-01 00:00:{i % 60:02d} INFO step {i} loss={1 / (i + 1):.5f} lr=0.0001 grad_norm=0.42\n" for i in range(10000)
    ).encode()
    with open(path, "wb") as f:
        for _ in range(max(1, megabytes * (1 << 20) // len(block))):
            f.write(block)
        last = "the very last line of the log\n"
        f.write(last.encode())
    return last.strip()


def prefix(src: Path, dst: Path, rows: int) -> None:
    with open(src, "rb") as f, open(dst, "wb") as out:
        for _ in range(rows):
            out.write(f.readline())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- measurements (each runs in its own subprocess) ------------------------------------------------
async def measure_jsonl(path: str, index_spec: str) -> dict:
    """Times are taken inside render_line: when the row is handed to the compositor to paint."""
    from widget_app import WidgetApp

    from finetui.tui.widgets.jsonl_view import JsonlView

    module, _, attr = index_spec.partition(":")
    index_cls = getattr(__import__(module, fromlist=[attr]), attr)
    painted: dict[int, float] = {}

    class TimedView(JsonlView):
        def render_line(self, y: int):
            strip = super().render_line(y)
            row = int(self.scroll_y) + y
            if self.index is not None and row < self.row_count:
                painted.setdefault(row, time.perf_counter())
            return strip

    app = WidgetApp(TimedView)
    out: dict = {}
    async with app.run_test(size=(120, PAGE + 2)) as pilot:
        view = app.query_one(TimedView)
        start = time.perf_counter()
        view.load(path, index_cls(path))
        while PAGE - 1 not in painted:
            await asyncio.sleep(0.001)
        out["first_page_s"] = painted[PAGE - 1] - start
        while not view.done:
            await asyncio.sleep(0.01)
        out["index_done_s"] = time.perf_counter() - start
        view.focus()
        last = view.row_count - 1
        start = time.perf_counter()
        await pilot.press("end")
        while last not in painted:
            await asyncio.sleep(0.001)
        out["jump_to_end_s"] = painted[last] - start
        out["rows"] = view.row_count
        assert view.cursor == last
    out["peak_rss_mb"] = peak_mb()
    return out


def measure_pandas(path: str) -> dict:
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_json(path, lines=True)
    return {"load_s": time.perf_counter() - start, "rows": len(frame), "peak_rss_mb": peak_mb()}


async def measure_datatable(path: str) -> dict:
    from widget_app import WidgetApp
    from textual.widgets import DataTable

    app = WidgetApp(DataTable)
    async with app.run_test(size=(120, PAGE + 2)) as pilot:
        start = time.perf_counter()
        table = app.query_one(DataTable)
        table.add_columns("#", "msgs", "first turn")
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        table.add_rows((str(i + 1), str(len(r["messages"])), r["messages"][0]["content"][:100]) for i, r in enumerate(rows))
        await pilot.pause()
        first = time.perf_counter() - start
        table.focus()
        start = time.perf_counter()
        table.move_cursor(row=len(rows) - 1)
        await pilot.pause()
        return {"first_page_s": first, "jump_to_end_s": time.perf_counter() - start, "rows": len(rows), "peak_rss_mb": peak_mb()}


async def measure_log(path: str, last: str, writer_s: float) -> dict:
    from widget_app import WidgetApp

    from finetui.tui.widgets.log_view import LogView

    painted: list[float] = []
    ages: list[float] = []

    class TimedView(LogView):
        def render_line(self, y: int):
            strip = super().render_line(y)
            text = strip.text.rstrip()
            if not painted and text == last:
                painted.append(time.perf_counter())
            if y == self.scrollable_content_region.height - 1 and text.startswith("FOLLOW "):
                ages.append(time.time() - float(text.split()[2]))  # age of the newest line as it is painted
            return strip

    app = WidgetApp(TimedView)
    out: dict = {}
    async with app.run_test(size=(120, PAGE + 2)):
        view = app.query_one(TimedView)
        start = time.perf_counter()
        view.load(path, follow=True)
        while not painted:
            await asyncio.sleep(0.001)
        out["tail_s"] = painted[0] - start
        while not view.log_file.complete:
            await asyncio.sleep(0.01)
        out["index_done_s"] = time.perf_counter() - start
        start = time.perf_counter()
        view.search("grad_norm=0.42 very", filter_on=True)  # a filter over the whole file, matching nothing
        while view.matches is None:
            await asyncio.sleep(0.005)
        out["filter_whole_file_s"] = time.perf_counter() - start
        view.search("", filter_on=False)
        # follow: another process appends 50,000 lines/s stamped with their write time
        writer = subprocess.Popen([PY, str(HERE), "--write-lines", path, str(writer_s)])
        deadline = time.monotonic() + writer_s + 3
        while writer.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        writer.wait()
        ages = ages[len(ages) // 10 :]  # skip the writer's start-up
        out["follow_age_p50_s"] = statistics.median(ages) if ages else None
        out["follow_age_p95_s"] = sorted(ages)[int(len(ages) * 0.95)] if ages else None
        out["follow_age_max_s"] = max(ages) if ages else None
        out["lines"] = view.line_count
    out["peak_rss_mb"] = peak_mb()
    return out


def write_lines(path: str, seconds: float, rate: int = 50_000, tick: float = 0.01) -> None:
    per_tick, seq = int(rate * tick), 0
    with open(path, "a", encoding="utf-8") as f:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            now = time.time()
            f.write(
                "".join(
                    f"FOLLOW {seq + i} {now:.6f} step loss=0.1234 lr=0.0001 some more text to be a log line\n"
                    for i in range(per_tick)
                )
            )
            f.flush()
            seq += per_tick
            next_tick = start + (seq / rate)
            time.sleep(max(0.0, next_tick - time.monotonic()))


EMPTY_APP = """
from textual.app import App
from textual.widgets import Static, Footer
class Empty(App):
    def compose(self):
        yield Static("ready"); yield Footer()
Empty().run()
"""


def first_frame(argv: list[str], mark: bytes, env: dict, timeout: float = 30) -> float | None:
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen, found = b"", None
    while time.perf_counter() - start < timeout:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if mark in seen:
                found = time.perf_counter() - start
                break
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    return found


def run_sub(*args: str, timeout: float = 300) -> dict:
    proc = subprocess.run([PY, str(HERE), *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--avg-bytes", type=int, default=5000)
    parser.add_argument("--log-mb", type=int, default=1024)
    parser.add_argument("--compare-rows", type=int, default=20_000)
    parser.add_argument("--follow-s", type=float, default=4.0)
    parser.add_argument("--index", default="finetui.core.data.jsonl:JsonlIndex")
    parser.add_argument("--measure", nargs="+")
    parser.add_argument("--write-lines", nargs=2)
    args = parser.parse_args()
    if args.write_lines:
        write_lines(args.write_lines[0], float(args.write_lines[1]))
        return
    if args.measure:
        kind, *rest = args.measure
        if kind == "jsonl":
            result = asyncio.run(measure_jsonl(rest[0], rest[1]))
        elif kind == "pandas":
            result = measure_pandas(rest[0])
        elif kind == "datatable":
            result = asyncio.run(measure_datatable(rest[0]))
        else:
            result = asyncio.run(measure_log(rest[0], rest[1], float(rest[2])))
        print(json.dumps(result))
        return

    tmp = Path(tempfile.mkdtemp(prefix="finetui-bench-"))
    figures: dict = {}
    try:
        t = time.perf_counter()
        data = tmp / "ultrachat.jsonl"
        write_ultrachat(data, args.rows, args.avg_bytes)
        small = tmp / "ultrachat-prefix.jsonl"
        prefix(data, small, min(args.compare_rows, args.rows))
        log = tmp / "big.log"
        last = write_log(log, args.log_mb)
        figures["files"] = {
            "jsonl_rows": args.rows,
            "jsonl_mb": round(data.stat().st_size / 2**20),
            "log_mb": round(log.stat().st_size / 2**20),
            "generate_s": round(time.perf_counter() - t, 1),
        }
        print("generated", figures["files"], flush=True)

        jsonl = run_sub("--measure", "jsonl", str(data), args.index)
        print("data pane", jsonl, flush=True)
        pandas_small = run_sub("--measure", "pandas", str(small))
        print("pandas (prefix)", pandas_small, flush=True)
        table_small = run_sub("--measure", "datatable", str(small))
        print("DataTable (prefix)", table_small, flush=True)
        scale = args.rows / max(1, min(args.compare_rows, args.rows))
        figures["data_pane"] = jsonl
        figures["pandas_read_json"] = {**pandas_small, "extrapolated_full_s": pandas_small.get("load_s", 0) * scale}
        figures["datatable"] = {**table_small, "extrapolated_full_s": table_small.get("first_page_s", 0) * scale}
        if "first_page_s" in jsonl:
            figures["ratios"] = {
                "pandas_full_over_first_page": round(
                    figures["pandas_read_json"]["extrapolated_full_s"] / jsonl["first_page_s"], 1
                ),
                "datatable_full_over_first_page": round(figures["datatable"]["extrapolated_full_s"] / jsonl["first_page_s"], 1),
            }

        figures["log_view"] = run_sub("--measure", "log", str(log), last, str(args.follow_s))
        print("log view", figures["log_view"], flush=True)

        ws = tmp / "workspace"
        env = {"FINETUI_WORKSPACE": str(ws), "TERM": "xterm-256color", "HF_HUB_OFFLINE": "1"}
        finetui = (
            [str(Path(PY).with_name("finetui"))] if Path(PY).with_name("finetui").exists() else [PY, "-m", "finetui.tui.cli.main"]
        )
        ours = [first_frame(finetui, b"Models", env) for _ in range(3)]
        empty = [first_frame([PY, "-c", EMPTY_APP], b"ready", env) for _ in range(3)]
        figures["first_frame"] = {
            "finetui_s": statistics.median([x for x in ours if x is not None] or [float("nan")]),
            "empty_textual_app_s": statistics.median([x for x in empty if x is not None] or [float("nan")]),
            "runs": 3,
        }
        print("first frame", figures["first_frame"], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
