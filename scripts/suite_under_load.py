"""The test suite under CPU load: a busy-loop process per core while pytest runs N times in a row.

CI runs on two cores with other work beside it; a timing assumption in a test
(a sleep as synchronisation, a deadline that only holds on an idle machine)
fails there and nowhere else. This keeps every core busy for the whole run,
runs the same pytest command ``--runs`` times, stops the burners, and prints
each run's time and counts; the last line is one JSON object.

    .venv/bin/python scripts/suite_under_load.py                  # the README's `make test`, 3 times
    .venv/bin/python scripts/suite_under_load.py --runs 1 -- tests/test_spec.py -q -p no:cacheprovider

Not in bench/: `make bench` runs every bench, and this takes three suite runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PYTEST_ARGS = ["-q", "-p", "no:cacheprovider"]  # what `make test` runs
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


def burn(deadline: float, parent: int) -> None:
    """Spin until ``deadline`` or until the parent is gone, whichever comes first."""
    while time.time() < deadline and os.getppid() == parent:
        for _ in range(2_000_000):
            pass


def start_burners(count: int, seconds: float) -> list[multiprocessing.Process]:
    deadline = time.time() + seconds
    procs = [multiprocessing.Process(target=burn, args=(deadline, os.getpid()), daemon=True) for _ in range(count)]
    for p in procs:
        p.start()
    return procs


def stop_burners(procs: list[multiprocessing.Process]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(timeout=10)


def summary_counts(output: str) -> dict[str, int]:
    """pytest's last summary line ("3 failed, 340 passed, 2 deselected in 360.1s") as counts."""
    lines = [ln for ln in output.splitlines() if _COUNT.search(ln)]
    counts: dict[str, int] = {}
    if lines:
        for number, what in _COUNT.findall(lines[-1]):
            counts["errors" if what.startswith("error") else what] = int(number)
    return counts


def run_once(index: int, pytest_args: list[str], log_dir: Path, timeout: float) -> dict:
    log = log_dir / f"run-{index}.log"
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", *pytest_args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = time.monotonic() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    counts = summary_counts(text)
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in text.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    return {
        "run": index,
        "seconds": round(seconds, 1),
        "exit_code": code,
        "timed_out": code is None,
        "passed": counts.get("passed", 0),
        "failed": counts.get("failed", 0),
        "errors": counts.get("errors", 0),
        "skipped": counts.get("skipped", 0),
        "failures": failed,
        "log": str(log),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="how many times to run the suite (default 3)")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2, help="busy-loop processes (default: one per core)")
    parser.add_argument("--run-timeout", type=float, default=3 * 3600, help="seconds one run may take")
    parser.add_argument("--logs", type=Path, default=None, help="folder for each run's output (default: a temp folder)")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments (default: -q -p no:cacheprovider)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.burners < 0:
        parser.error("--runs must be 1 or more and --burners 0 or more")
    pytest_args = args.pytest_args or DEFAULT_PYTEST_ARGS
    log_dir = args.logs or Path(os.environ.get("TMPDIR", "/tmp")) / f"finetui-suite-under-load-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)

    # bounded by the run: burners stop at the deadline even if this process is killed hard
    burners = start_burners(args.burners, args.runs * args.run_timeout + 60)
    results = []
    try:
        print(
            f"{args.burners} CPU burner(s) running; pytest {' '.join(pytest_args)} x {args.runs}; logs in {log_dir}", flush=True
        )
        for i in range(1, args.runs + 1):
            r = run_once(i, pytest_args, log_dir, args.run_timeout)
            results.append(r)
            state = "timed out" if r["timed_out"] else f"exit {r['exit_code']}"
            print(
                f"run {i}: {r['seconds']:.1f} s, {r['passed']} passed, {r['failed']} failed, {r['errors']} errors,"
                f" {r['skipped']} skipped ({state})" + (f"; failed: {', '.join(r['failures'])}" if r["failures"] else ""),
                flush=True,
            )
    finally:
        stop_burners(burners)
    all_green = all(r["exit_code"] == 0 for r in results)
    print(
        json.dumps(
            {
                "bench": "suite_under_load",
                "burners": args.burners,
                "cpus": os.cpu_count(),
                "pytest_args": pytest_args,
                "runs": results,
                "all_passed": all_green,
            }
        )
    )
    return 0 if all_green else 1


if __name__ == "__main__":
    sys.exit(main())
