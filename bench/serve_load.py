"""Endpoint under load: 32 and 64 streaming clients against one local endpoint for a bounded time.

Each client sends streamed chat completions back to back; a 429 (queue
full) is honoured by waiting its Retry-After. Per level: requests answered,
p50/p99 time to the whole answer and to the first token, answers by HTTP
status (and connection errors), the server's queue rejections and queue
depth from /metrics, and the server's resident memory before and after.
Without load shedding 64 streams queued without bound (p99 about 11 s);
with it, requests past the queue are refused at once and the p99 of those
answered stays near the time of a full batch. The model is a small random
Phi-3, built in a temporary folder. The last line printed is one JSON object.

    .venv/bin/python bench/serve_load.py [--seconds 20] [--levels 32 64] [--tokens 32] [--max-requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from pathlib import Path

from _common import PROMPT, add_model_args, offline_with_threads, serving, tiny_model


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process from /proc (Linux); None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def metric(client, root: str, name: str) -> float:
    text = (await client.get(f"{root}/metrics")).text
    return float(next(line for line in text.splitlines() if line.startswith(name)).split()[-1])


async def one_level(base_url: str, key: str, clients: int, seconds: float, tokens: int, max_requests: int) -> dict:
    import httpx

    url = f"{base_url}/chat/completions"
    root = base_url.rsplit("/", 1)[0]
    body = {"messages": PROMPT, "temperature": 0, "max_tokens": tokens, "stream": True}
    latencies: list[float] = []
    ttfts: list[float] = []
    statuses: collections.Counter[str] = collections.Counter()
    deepest = [0.0]
    sent = [0]
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=300, limits=limits) as client:
        rejected_before = await metric(client, root, "finetui_queue_rejections_total")

        async def user() -> None:
            while time.monotonic() < deadline and sent[0] < max_requests:
                sent[0] += 1
                start = time.perf_counter()
                first = None
                try:
                    async with client.stream("POST", url, json=body) as resp:
                        if resp.status_code != 200:
                            await resp.aread()
                            statuses[str(resp.status_code)] += 1
                            if resp.status_code in (429, 503):
                                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                            continue
                        ended = None
                        async for line in resp.aiter_lines():
                            if not line.startswith("data: ") or line == "data: [DONE]":
                                continue
                            event = json.loads(line[6:])
                            if "error" in event:
                                ended = "error"
                            elif first is None and event["choices"] and event["choices"][0]["delta"].get("content"):
                                first = time.perf_counter()
                            elif event["choices"] and event["choices"][0]["finish_reason"]:
                                ended = "done"
                        statuses["200" if ended == "done" else f"200 then {ended or 'cut off'}"] += 1
                        if ended == "done":
                            latencies.append(time.perf_counter() - start)
                            ttfts.append((first or time.perf_counter()) - start)
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1

        async def watch_queue() -> None:
            while time.monotonic() < deadline:
                deepest[0] = max(deepest[0], await metric(client, root, "finetui_queue_depth"))
                await asyncio.sleep(0.5)

        t0 = time.perf_counter()
        await asyncio.gather(watch_queue(), *(user() for _ in range(clients)))
        wall = time.perf_counter() - t0
        rejected = await metric(client, root, "finetui_queue_rejections_total") - rejected_before
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": sum(statuses.values()),
        "answered": len(latencies),
        "answers_per_s": round(len(latencies) / wall, 2),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p99_ms": percentile(latencies, 0.99),
        "ttft_p50_ms": percentile(ttfts, 0.5),
        "ttft_p99_ms": percentile(ttfts, 0.99),
        "by_status": dict(sorted(statuses.items())),
        "queue_rejections": int(rejected),
        "max_queue_depth_seen": int(deepest[0]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="load time per level")
    parser.add_argument("--levels", type=int, nargs="+", default=[32, 64], help="concurrent streaming clients")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per answer")
    parser.add_argument("--max-requests", type=int, default=3000, help="stop a level after this many requests")
    parser.add_argument("--max-queue", type=int, default=None, help="the endpoint's queue (default: the server's)")
    add_model_args(parser, "torch threads in the server")
    args = parser.parse_args()
    offline_with_threads(args.threads)

    t_start = time.perf_counter()
    levels = []
    with tiny_model(args) as model_dir:
        extra = {} if args.max_queue is None else {"max_queue": args.max_queue}
        with serving(model_dir, "bench-load", **extra) as (backend, ep, key):
            pid = backend.get_endpoint(ep.name).pid
            rss_start = rss_mib(pid)
            for clients in args.levels:
                before = rss_mib(pid)
                level = asyncio.run(one_level(ep.base_url, key, clients, args.seconds, args.tokens, args.max_requests))
                level["rss_before_mib"], level["rss_after_mib"] = before, rss_mib(pid)
                levels.append(level)
                print(
                    f"{clients} clients: {level['answered']} answers in {level['seconds']} s, latency p50 "
                    f"{level['latency_p50_ms']} ms p99 {level['latency_p99_ms']} ms, TTFT p99 {level['ttft_p99_ms']} ms, "
                    f"by status {level['by_status']}, queue rejections {level['queue_rejections']}, "
                    f"RSS {level['rss_before_mib']} -> {level['rss_after_mib']} MiB",
                    flush=True,
                )
            rss_end = rss_mib(pid)
    print(
        json.dumps(
            {
                "tokens_per_answer": args.tokens,
                "seconds_per_level": args.seconds,
                "rss_start_mib": rss_start,
                "rss_end_mib": rss_end,
                "levels": levels,
                "seconds": round(time.perf_counter() - t_start, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
