"""JsonlIndex row access, the training-file preparation and dataset fetching (offline)."""

from __future__ import annotations

import json
import time

import pytest

from data_factory import write_hub_folder, write_jsonl, write_synthetic_ultrachat
from finetui.core.data.fetch import fetch_dataset
from finetui.core.data.jsonl import JsonlIndex
from finetui.core.data.prepare import prepare_training_file
from finetui.core.data.validate import validate_file
from finetui.core.errors import InvalidInput, NetworkUnavailable


def _conv(user: str, assistant: str = "ok") -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


# -- JsonlIndex --------------------------------------------------------------------------------
def test_index_multibyte_rows_without_trailing_newline(tmp_path):
    rows = [_conv("žabe i ćevapi"), _conv("日本語のテキスト"), _conv("Ελληνικά — “quoted”")]
    p = tmp_path / "u.jsonl"
    p.write_bytes("\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode("utf-8"))
    with JsonlIndex(p) as index:
        assert index.scan() is True and index.done
        assert index.line_count == 3
        assert [index.row(i) for i in range(3)] == rows
        assert index.rows(1, 10) == rows[1:]


def test_index_is_usable_while_being_built(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", (_conv(f"question {i}") for i in range(2000)))
    with JsonlIndex(p) as index:
        assert index.scan(max_bytes=4096) is False
        partial = index.line_count
        assert 0 < partial < 2000
        assert index.row(partial - 1) == _conv(f"question {partial - 1}")
        while not index.scan(max_bytes=4096):
            pass
        assert index.line_count == 2000
        assert index.row(1999) == _conv("question 1999")


def test_index_skips_blank_lines_and_knows_file_lines(tmp_path):
    p = tmp_path / "b.jsonl"
    p.write_text(json.dumps(_conv("a")) + "\n\n  \n" + json.dumps(_conv("b")) + "\n")
    with JsonlIndex(p) as index:
        index.scan()
        assert index.line_count == 2
        assert index.row(1) == _conv("b")
        assert index.line_number(1) == 4


def test_index_bad_row_names_its_line(tmp_path):
    p = tmp_path / "b.jsonl"
    p.write_text(json.dumps(_conv("a")) + "\n{oops\n")
    with JsonlIndex(p) as index:
        index.scan()
        with pytest.raises(InvalidInput, match="line 2"):
            index.row(1)


def test_synthetic_ultrachat_is_valid_and_indexable(tmp_path):
    p = write_synthetic_ultrachat(tmp_path / "s.jsonl", 300, avg_bytes=2000)
    report = validate_file(p)
    assert report.ok and report.rows == 300
    size = p.stat().st_size
    assert 300 * 1000 < size < 300 * 3000
    with JsonlIndex(p) as index:
        index.scan()
        row = index.row(123)
        assert set(row) == {"prompt", "prompt_id", "messages"} and row["prompt"] == row["messages"][0]["content"]


# -- prepare_training_file -------------------------------------------------------------------
def test_prepare_keeps_only_messages(tmp_path):
    src = tmp_path / "train.jsonl"
    rows = [dict(_conv(f"q{i}"), prompt=f"q{i}", prompt_id=str(i)) for i in range(5)]
    src.write_text("\n".join(json.dumps(r) for r in rows[:3]) + "\n\n" + "\n".join(json.dumps(r) for r in rows[3:]))
    dst = tmp_path / "out" / "train.messages.jsonl"
    assert prepare_training_file(src, dst) == 5
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert out == [{"messages": r["messages"]} for r in rows]
    assert [p.name for p in dst.parent.iterdir()] == [dst.name]  # no temp file left behind


def test_prepare_bad_row_names_the_line_and_leaves_no_output(tmp_path):
    src = tmp_path / "train.jsonl"
    src.write_text(json.dumps(_conv("a")) + "\n" + '{"prompt": "x"}\n')
    dst = tmp_path / "train.messages.jsonl"
    with pytest.raises(InvalidInput, match=":2:"):
        prepare_training_file(src, dst)
    assert list(tmp_path.iterdir()) == [src]


# -- fetch_dataset ---------------------------------------------------------------------------
def test_fetch_offline_is_fast_and_names_the_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(NetworkUnavailable, match="HuggingFaceH4/ultrachat_200k"):
        fetch_dataset("HuggingFaceH4/ultrachat_200k", tmp_path / "out")
    assert time.monotonic() - start < 5
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_fetch_unreachable_hub_is_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    start = time.monotonic()
    with pytest.raises(NetworkUnavailable, match="someone/chats"):
        fetch_dataset("someone/chats", tmp_path / "out")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("pc", [0, -1, 101])
def test_fetch_rejects_bad_percent(tmp_path, pc):
    with pytest.raises(InvalidInput, match="split_pc"):
        fetch_dataset(str(tmp_path), tmp_path / "out", split_pc=pc)


def test_fetch_from_a_local_copy_writes_each_split(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    hub = write_hub_folder(tmp_path / "ultrachat", {"train_sft": 40, "test_sft": 20, "train_gen": 10})
    seen = []
    out = fetch_dataset(
        str(hub), tmp_path / "out", split_pc=50, splits=["train_sft", "test_sft"], progress=lambda m, f: seen.append(f)
    )
    assert set(out) == {"train_sft", "test_sft"}
    counts = {split: sum(1 for _ in open(path, encoding="utf-8")) for split, path in out.items()}
    assert counts == {"train_sft": 20, "test_sft": 10}
    first = json.loads(open(out["train_sft"], encoding="utf-8").readline())
    assert set(first) == {"prompt", "prompt_id", "messages"}
    assert validate_file(out["train_sft"]).ok
    assert seen and seen[-1] == 1.0


def test_fetch_unknown_split_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    hub = write_hub_folder(tmp_path / "ultrachat", {"train_sft": 5})
    with pytest.raises(InvalidInput, match="nosuch"):
        fetch_dataset(str(hub), tmp_path / "out", splits=["nosuch"])


def test_fetch_from_a_folder_of_split_jsonl_files_keeps_split_names(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "copy"
    src.mkdir()
    write_jsonl(src / "train_sft.jsonl", (_conv(f"t{i}") for i in range(10)))
    write_jsonl(src / "test_sft.jsonl", (_conv(f"e{i}") for i in range(4)))
    out = fetch_dataset(str(src), tmp_path / "out", split_pc=50, splits=["train_sft", "test_sft"])
    rows = [json.loads(line) for line in open(out["train_sft"], encoding="utf-8")]
    assert rows == [_conv(f"t{i}") for i in range(5)]
    assert sum(1 for _ in open(out["test_sft"], encoding="utf-8")) == 2


def test_fetch_a_percentage_with_no_rows_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "copy"
    src.mkdir()
    write_jsonl(src / "train_sft.jsonl", (_conv(f"t{i}") for i in range(10)))
    with pytest.raises(InvalidInput, match="5% of split train_sft holds no rows"):
        fetch_dataset(str(src), tmp_path / "out", split_pc=5, splits=["train_sft"])
    assert not (tmp_path / "out" / "train_sft.jsonl").exists()
