"""`finetui data` through the real CLI: output, --json and exit codes."""

from __future__ import annotations

import json
import time

from cli_helpers import finetui
from data_factory import tiny_chat_tokenizer, ultrachat_rows, write_hub_folder, write_jsonl
from model_folders import make_tiny_model

GOOD = {
    "messages": [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "how are you\nfine"}],
    "prompt": "hello there",
}


def _mixed(tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_text(
        json.dumps(GOOD)
        + "\n\n"
        + json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})
        + "\n"
        + "{broken\n",
        encoding="utf-8",
    )
    return p


def test_validate_invalid_file_lists_issues_and_exits_2(tmp_path):
    p = _mixed(tmp_path)
    proc = finetui(tmp_path / "ws", "data", "validate", str(p), check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{p}:3: messages[1].role: two user turns in a row")
    assert lines[1].startswith(f"{p}:4: malformed JSON")
    assert "INVALID" in lines[-1] and "1 of 3" in lines[-1]

    proc = finetui(tmp_path / "ws", "data", "validate", str(p), "--json", check=False)
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert report["ok"] is False and [i["line"] for i in report["issues"]] == [3, 4]


def test_validate_good_file_exits_0(tmp_path):
    p = write_jsonl(tmp_path / "train.jsonl", ultrachat_rows(20, avg_bytes=500))
    proc = finetui(tmp_path / "ws", "data", "validate", str(p))
    assert "ok: 20 of 20" in proc.stdout


def test_validate_missing_file_is_one_line_exit_2(tmp_path):
    proc = finetui(tmp_path / "ws", "data", "validate", str(tmp_path / "nope.jsonl"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope.jsonl" in proc.stderr


def test_validate_with_a_catalog_models_tokenizer(tmp_path):
    ws = tmp_path / "ws"
    folder = make_tiny_model(tmp_path / "tiny")
    tiny_chat_tokenizer().save_pretrained(folder)
    ref = finetui(ws, "model", "add", str(folder)).stdout.strip()
    p = write_jsonl(tmp_path / "d.jsonl", [GOOD, GOOD])
    # one run (transformers loads in ~3 s): human output; JSON token stats are covered in test_data_validate
    out = finetui(ws, "data", "validate", str(p), "--model", ref).stdout
    assert "tokens per row: min " in out
    assert "0 row(s) over max_seq_length 128" in out  # defaults to the model's context length
    assert "ok: 2 of 2" in out


def test_show_prints_conversations(tmp_path):
    p = _mixed(tmp_path)
    out = finetui(tmp_path / "ws", "data", "show", str(p), "--rows", "1").stdout
    assert "user: hello there" in out and "assistant: how are you" in out and "fine" in out
    rows = json.loads(finetui(tmp_path / "ws", "data", "show", str(p), "--start", "1", "--rows", "5", "--json").stdout)
    assert [r["line"] for r in rows] == [3, 4]
    assert rows[0]["row"]["messages"][1]["content"] == "b" and "malformed JSON" in rows[1]["error"]


def test_fetch_offline_fails_fast_naming_the_repo(tmp_path):
    start = time.monotonic()
    proc = finetui(tmp_path / "ws", "data", "fetch", "HuggingFaceH4/ultrachat_200k", "--out", str(tmp_path / "d"), check=False)
    assert proc.returncode == 1
    assert "HuggingFaceH4/ultrachat_200k" in proc.stderr
    assert time.monotonic() - start < 15  # includes the interpreter start


def test_fetch_local_copy(tmp_path):
    hub = write_hub_folder(tmp_path / "hub", {"train_sft": 20, "test_sft": 10})
    env = {"HF_DATASETS_CACHE": str(tmp_path / "cache")}
    args = [
        "data",
        "fetch",
        str(hub),
        "--out",
        str(tmp_path / "d"),
        "--split",
        "train_sft",
        "--split",
        "test_sft",
        "--split-pc",
        "50",
        "--json",
    ]
    out = json.loads(finetui(tmp_path / "ws", *args, env=env).stdout)
    assert sorted(out) == ["test_sft", "train_sft"]
    assert sum(1 for _ in open(out["test_sft"], encoding="utf-8")) == 5
    bad = finetui(tmp_path / "ws", "data", "fetch", str(hub), "--out", str(tmp_path / "d"), "--split-pc", "0", check=False)
    assert bad.returncode == 2
