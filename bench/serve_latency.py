"""Endpoint latency and batching: in-process generation vs the same model behind a local endpoint.

Measures time to first token (TTFT) and tokens/s of one stream in-process
(the engine without HTTP) and through the endpoint (OpenAI streaming over
loopback, streamed as the OpenAI protocol), then the aggregate tokens/s of 1, 4 and 8 concurrent streaming
clients. Targets: 8 clients get >= 3x the aggregate tokens/s of one; the
endpoint adds <= 15 ms to TTFT. The model is a small random Phi-3 (bigger
than the test one, so a batched step costs more than Python overhead),
built in a temporary folder. The last line printed is one JSON object.

    .venv/bin/python bench/serve_latency.py [--threads 1] [--tokens 64] [--hidden 256] [--layers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

from _common import PROMPT, add_model_args, offline_with_threads, serving, tiny_model


def in_process(model_dir: Path, tokens: int, runs: int) -> dict:
    from finetui.core.local.serve.engine import Engine, GenParams, GenRequest

    engine = Engine(str(model_dir))
    engine.load()
    prompt = engine.encode_chat(PROMPT)
    ttfts, rates = [], []
    for i in range(runs + 1):
        first: list[float] = []
        done = threading.Event()
        count = [0]

        def emit(event, first=first, done=done, count=count):
            if event[0] == "text" and not first:
                first.append(time.perf_counter())
            if event[0] == "done":
                count[0] = event[2]["completion_tokens"]
                done.set()

        start = time.perf_counter()
        engine.submit(GenRequest(prompt, GenParams(do_sample=False, max_new_tokens=tokens), emit))
        done.wait(120)
        end = time.perf_counter()
        if i == 0:
            continue  # warm-up
        ttfts.append(first[0] - start)
        rates.append((count[0] - 1) / (end - first[0]))
    engine.close()
    return {"ttft_ms": statistics.median(ttfts) * 1000, "tokens_per_s": statistics.median(rates)}


async def stream_once(client, url: str, tokens: int) -> tuple[float, float, int]:
    """One streamed answer over raw HTTP (a light client, so the bench measures the server)."""
    start = time.perf_counter()
    first = None
    n = 0
    body = {"messages": PROMPT, "temperature": 0, "max_tokens": tokens, "stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", url, json=body) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if first is None and event["choices"] and event["choices"][0]["delta"].get("content"):
                first = time.perf_counter()
            if event.get("usage"):
                n = event["usage"]["completion_tokens"]
    return start, first or time.perf_counter(), n


async def through_endpoint(base_url: str, key: str, tokens: int, runs: int, levels: list[int]) -> dict:
    import httpx

    out: dict = {}
    url = f"{base_url}/chat/completions"
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=300, limits=limits) as client:
        await stream_once(client, url, 4)  # warm-up: connection, first request
        ttfts, rates = [], []
        for _ in range(runs):
            start, first, n = await stream_once(client, url, tokens)
            end = time.perf_counter()
            ttfts.append(first - start)
            rates.append((n - 1) / (end - first))
        out["single"] = {"ttft_ms": statistics.median(ttfts) * 1000, "tokens_per_s": statistics.median(rates)}
        for level in levels:
            best = 0.0
            for _ in range(3):  # best of three: the machine may be shared
                t0 = time.perf_counter()
                results = await asyncio.gather(*(stream_once(client, url, tokens) for _ in range(level)))
                wall = time.perf_counter() - t0
                best = max(best, sum(n for _s, _f, n in results) / wall)
            out[f"aggregate_{level}"] = best
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(parser, "torch threads, here and in the server")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per answer")
    parser.add_argument("--runs", type=int, default=7, help="single-stream runs (median reported)")
    args = parser.parse_args()
    offline_with_threads(args.threads)

    import torch

    torch.set_num_threads(args.threads)

    t_start = time.perf_counter()
    with tiny_model(args) as model_dir:
        params = sum(p.numel() for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(model_dir).parameters())
        local = in_process(model_dir, args.tokens, args.runs)
        print(f"in-process:  TTFT {local['ttft_ms']:.1f} ms, {local['tokens_per_s']:.0f} tokens/s", flush=True)

        with serving(model_dir, "bench-endpoint") as (_, ep, key):
            remote = asyncio.run(through_endpoint(ep.base_url, key, args.tokens, args.runs, [1, 4, 8]))

    single = remote["single"]
    print(f"endpoint:    TTFT {single['ttft_ms']:.1f} ms, {single['tokens_per_s']:.0f} tokens/s", flush=True)
    for level in (1, 4, 8):
        print(f"{level} concurrent stream(s): {remote[f'aggregate_{level}']:.0f} tokens/s aggregate")
    result = {
        "model_parameters": params,
        "threads": args.threads,
        "tokens_per_answer": args.tokens,
        "in_process_ttft_ms": round(local["ttft_ms"], 2),
        "endpoint_ttft_ms": round(single["ttft_ms"], 2),
        "endpoint_ttft_overhead_ms": round(single["ttft_ms"] - local["ttft_ms"], 2),
        "in_process_tokens_per_s": round(local["tokens_per_s"], 1),
        "endpoint_tokens_per_s": round(single["tokens_per_s"], 1),
        "aggregate_tokens_per_s": {str(k): round(remote[f"aggregate_{k}"], 1) for k in (1, 4, 8)},
        "speedup_4_vs_1": round(remote["aggregate_4"] / remote["aggregate_1"], 2),
        "speedup_8_vs_1": round(remote["aggregate_8"] / remote["aggregate_1"], 2),
        "targets_met": {
            "speedup_8_at_least_3x": remote["aggregate_8"] / remote["aggregate_1"] >= 3,
            "ttft_overhead_at_most_15ms": single["ttft_ms"] - local["ttft_ms"] <= 15,
        },
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
