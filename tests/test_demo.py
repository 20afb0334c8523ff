"""The offline demo: deterministic data, a tokenizer that masks assistant turns, an idempotent build."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from finetui.core.local.demo import data as demo_data


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_data_is_deterministic_and_in_the_ultrachat_schema(tmp_path):
    a = demo_data.write_dataset(tmp_path / "a")
    demo_data.write_dataset(tmp_path / "b")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")

    for key in ("chat", "train", "test"):
        rows = demo_data.read_jsonl(a[key])
        assert rows, key
        for row in rows:
            assert set(row) == {"prompt", "prompt_id", "messages"}
            assert row["prompt_id"] == hashlib.sha256(row["prompt"].encode()).hexdigest()
            roles = [m["role"] for m in row["messages"] if m["role"] != "system"]
            assert roles[0] == "user" and roles[-1] == "assistant"
            assert row["prompt"] == next(m["content"] for m in row["messages"] if m["role"] == "user")
    chat = demo_data.read_jsonl(a["chat"])
    assert any(r["messages"][0]["role"] == "system" for r in chat)
    assert any(len(r["messages"]) > 2 for r in chat)


def test_facts_are_new_to_the_base_and_heldout_phrasing_is_unseen(tmp_path):
    files = demo_data.write_dataset(tmp_path)
    countries = [c for c, _ in demo_data.COUNTRIES]
    assert [c[0] for c in countries] == [chr(ord("A") + i) for i in range(26)]
    chat_text = files["chat"].read_text()
    assert not any(c in chat_text for c in countries)  # the base never sees the invented countries

    train = demo_data.read_jsonl(files["train"])
    heldout = demo_data.read_jsonl(files["heldout"])
    assert len(heldout) == 26
    train_questions = {m["content"] for r in train for m in r["messages"] if m["role"] == "user"}
    for row, (country, capital) in zip(heldout, demo_data.COUNTRIES):
        question = row["messages"][0]["content"]
        assert row == {"messages": [{"role": "user", "content": question}], "expected": capital}
        assert country in question and question not in train_questions
        assert sum(capital in r["messages"][-1]["content"] for r in train) >= 3


def test_sample_score_has_the_tutorial_shape(tmp_path):
    files = demo_data.write_dataset(tmp_path)
    score = json.loads(files["sample_score"].read_text())
    assert set(score) == {"input_data", "params"} and score["params"] == {}
    [[message]] = score["input_data"]["input_string"]
    assert message["role"] == "user" and message["content"]
    assert score["input_data"]["parameters"] == {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200}


def test_train_rows_pass_validation(tmp_path):
    from finetui.core.data import validate

    files = demo_data.write_dataset(tmp_path)
    for key in ("train", "test"):
        report = validate.validate_file(files[key])
        assert report.rows == report.valid_rows > 0 and not report.issues


def test_tokenizer_template_masks_the_assistant_turns(tmp_path):
    from transformers import AutoTokenizer

    from finetui.core.local.demo.tokenizer import train_tokenizer

    rows = demo_data.general_chat(__import__("random").Random(0))
    train_tokenizer(demo_data.corpus_texts(rows), vocab_size=600).save_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok.eos_token == "<|end|>" and tok.pad_token == "<|endoftext|>" and tok.pad_token_id != tok.eos_token_id

    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi there."},
        {"role": "user", "content": "Thanks."},
        {"role": "assistant", "content": "You're welcome."},
    ]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text == (
        "<|system|>\nBe brief.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\nHi there.<|end|>\n"
        "<|user|>\nThanks.<|end|>\n<|assistant|>\nYou're welcome.<|end|>\n"
    )
    prompt = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|user|>\nHello!<|end|>\n<|assistant|>\n")

    enc = tok.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    learned = tok.decode([i for i, m in zip(ids, mask) if m])
    assert learned == "Hi there.<|end|>You're welcome.<|end|>"
    assert tok.encode("Zorvania \u00e9\U0001f600", add_special_tokens=False)  # byte-level: nothing is unknown
    assert tok.decode(tok.encode("Zorvania \u00e9\U0001f600", add_special_tokens=False)) == "Zorvania \u00e9\U0001f600"


@pytest.mark.slow
def test_build_demo_is_idempotent_and_registers_once(demo_ws):
    """The session's demo (built through `finetui demo`) is found again by the API, not rebuilt or re-added."""
    from finetui.core.local.catalog import LocalCatalog
    from finetui.core.local.demo import DEMO_MODEL_NAME, build_demo
    from finetui.core.local.store import Store
    from finetui.core.spec import FineTuneSpec
    from finetui.core.workspace import WorkspacePaths

    ws, demo = demo_ws
    paths = WorkspacePaths(Path(ws).resolve())
    store = Store(paths.db)
    seen: list[tuple[str, float | None]] = []
    again = build_demo(paths, store, progress=lambda m, f: seen.append((m, f)))
    assert not again.built and not seen
    assert again.model_name == DEMO_MODEL_NAME and again.model_version == demo["model_version"] == "1"
    assert again.model_path == demo["model_path"] and again.train_file == demo["train_file"]

    model_dir = Path(again.model_path)
    for name in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json"):
        assert (model_dir / name).is_file()
    gen = json.loads((model_dir / "generation_config.json").read_text())
    config = json.loads((model_dir / "config.json").read_text())
    assert gen["eos_token_id"] == config["eos_token_id"] != config["pad_token_id"]
    assert not [p for p in paths.models.iterdir() if p.name.startswith(".")]  # no temp folders left
    assert not [p for p in paths.data.iterdir() if p.name.startswith(".")]

    entries = [m for m in LocalCatalog(paths, store).list() if m.name == DEMO_MODEL_NAME]
    assert len(entries) == 1
    entry = entries[0]
    assert entry.source == "demo" and entry.tags["task"] == "chat-completion"
    assert 500_000 < entry.parameter_count < 2_000_000
    FineTuneSpec().replace(entry.model_specific_defaults)  # every default is a valid spec value

    # the base answers greedily and stops at <|end|>, but does not know the invented capitals
    from finetui.core.local.demo.evaluate import evaluate_heldout

    assert evaluate_heldout(model_dir, model_dir, again.heldout_file, limit=5) == (0, 5)


@pytest.mark.slow
def test_demo_cli_json_and_next_steps(demo_ws):
    ws, demo = demo_ws
    assert demo["model"] == "finetui-demo-base" and demo["built"] is True
    for key in (
        "model_version",
        "model_path",
        "train_file",
        "test_file",
        "heldout_file",
        "sample_score_file",
        "workspace",
        "built",
    ):
        assert key in demo
    assert Path(demo["workspace"]) == Path(ws).resolve()
    for key in ("train_file", "test_file", "heldout_file", "sample_score_file"):
        assert Path(demo[key]).is_file()

    from cli_helpers import finetui, finetui_json

    human = finetui(ws, "demo")
    assert f"--workspace {Path(ws).resolve()} job submit --model finetui-demo-base" in human.stdout
    assert demo["train_file"] in human.stdout
    again = finetui_json(ws, "demo")
    assert again["built"] is False and again["model_version"] == demo["model_version"]
    listed = finetui_json(ws, "model", "list")
    assert [m["name"] for m in listed].count("finetui-demo-base") == 1


def test_demo_needs_the_local_backend(tmp_path):
    from cli_helpers import finetui

    proc = finetui(tmp_path, "--backend", "azure", "demo", "--json", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error:") and "--backend local" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "models").exists()
