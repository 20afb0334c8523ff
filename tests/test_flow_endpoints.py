"""Issue 4's flow through the CLI, on real processes and a real server on loopback:
registered model -> endpoint create -> invoke (sample_score.json) -> openai streaming chat
-> chat --compare against the base -> endpoint delete (port closed, keys gone).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from cli_helpers import finetui, finetui_json

pytestmark = pytest.mark.slow


def _port_open(url: str) -> bool:
    u = urlparse(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((u.hostname, u.port)) == 0


def test_deploy_invoke_chat_compare_delete(trained_ws):
    ws, demo, job, registered = trained_ws
    ref = f"{registered['name']}:{registered['version']}"
    ft = finetui_json(ws, "endpoint", "create", "ft-chat", "--model", ref, timeout=300)
    base = finetui_json(ws, "endpoint", "create", "base-chat", "--model", demo["model"], timeout=300)
    try:
        assert ft["state"] == "Succeeded" and ft["scoring_uri"].endswith("/score")
        assert base["state"] == "Succeeded" and base["scoring_uri"] != ft["scoring_uri"]
        assert _port_open(ft["scoring_uri"]) and _port_open(base["scoring_uri"])
        keys_file = Path(ws, "endpoints", "ft-chat", "keys.json")
        assert keys_file.stat().st_mode & 0o777 == 0o600

        # The tutorial's sample_score.json, unchanged.
        out = finetui_json(ws, "endpoint", "invoke", "ft-chat", "--request-file", demo["sample_score_file"])
        assert isinstance(out["output"], str) and out["output"]

        # The official openai client, streaming.
        import openai

        keys = finetui_json(ws, "endpoint", "keys", "ft-chat")
        client = openai.OpenAI(base_url=ft["base_url"], api_key=keys["primary"])
        heldout = [json.loads(line) for line in Path(demo["heldout_file"]).read_text().splitlines() if line.strip()]
        question = heldout[0]
        stream = client.chat.completions.create(
            model="ft-chat", messages=question["messages"], stream=True, temperature=0, max_tokens=32
        )
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        assert question["expected"] in "".join(pieces)

        # --compare: the fine-tuned model knows what the base never saw.
        wins = 0
        for q in heldout[:6]:
            both = finetui_json(
                ws,
                "chat",
                "--compare",
                "base-chat",
                "ft-chat",
                "--message",
                q["messages"][-1]["content"],
                "--param",
                "temperature=0",
                "--param",
                "do_sample=false",
                "--param",
                "max_new_tokens=32",
            )
            answers = {r["endpoint"]: r["answer"] for r in both}
            if q["expected"] in answers["ft-chat"] and q["expected"] not in answers["base-chat"]:
                wins += 1
        assert wins >= 4, wins
    finally:
        for name in ("ft-chat", "base-chat"):
            finetui(ws, "endpoint", "delete", name, "--yes", check=False)
    assert not _port_open(ft["scoring_uri"])
    assert not keys_file.exists()
    assert all(e["name"] not in ("ft-chat", "base-chat") for e in finetui_json(ws, "endpoint", "list"))
