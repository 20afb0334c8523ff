"""`finetui data preview`: a row as training sees it, trained tokens marked, the cut, the warnings."""

from __future__ import annotations

import json

import pytest
from chat_templates import CHATML, REASONING, SYSTEM_PROMPT, TWO_TURNS, WITH_REASONING, build_tokenizer
from chatml_model import build_chatml_llama, facts_rows, write_rows
from cli_helpers import finetui

from finetui.core.data.preview import check_rows, preview_row
from finetui.core.seq_length import job_sequence_length


@pytest.fixture(scope="module")
def ws_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("preview")
    folder = build_chatml_llama(root / "chatml", context=8192, hidden=32)
    ws = root / "ws"
    ref = finetui(ws, "model", "add", str(folder)).stdout.strip()
    data = write_rows(root / "train.jsonl", [*facts_rows(), {"messages": TWO_TURNS}])
    return ws, ref, data, root


def test_preview_marks_the_replies_without_colour_and_lists_spans_in_json(ws_model):
    ws, ref, data, root = ws_model
    out = finetui(ws, "data", "preview", str(data), "--model", ref, "--row", "4", env={"NO_COLOR": "1"}).stdout
    assert "max_length 1024" in out and "tokens" in out.splitlines()[0]
    assert "[[Hello! How can I help?<|im_end|>\n]]" in out
    assert "[[Octopuses have three hearts.<|im_end|>\n]]" in out
    assert SYSTEM_PROMPT in out and f"[[{SYSTEM_PROMPT}" not in out  # shown, not trained
    assert "loss mask: derived" in out and "\x1b[" not in out

    result = json.loads(finetui(ws, "data", "preview", str(data), "--model", ref, "--row", "4", "--json").stdout)
    assert result["method"] == "derived" and result["max_length"] == 1024 and result["warnings"] == []
    assert [s["text"] for s in result["trained_spans"]] == [
        "Hello! How can I help?<|im_end|>\n",
        "Octopuses have three hearts.<|im_end|>\n",
    ]
    assert result["trained_tokens"] == sum(s["end"] - s["start"] for s in result["trained_spans"])
    assert 0 < result["trained_tokens"] < result["token_count"]


def test_preview_shows_the_cut_and_warns_of_a_reply_cut_off(ws_model):
    ws, ref, data, root = ws_model
    first = json.loads(finetui(ws, "data", "preview", str(data), "--model", ref, "--row", "4", "--json").stdout)
    second = first["trained_spans"][1]
    spec = root / "short.yaml"
    spec.write_text(f"max_seq_length: {second['start']}\n", encoding="utf-8")
    out = finetui(
        ws, "data", "preview", str(data), "--model", ref, "--row", "4", "--spec", str(spec), env={"NO_COLOR": "1"}
    ).stdout
    assert f"✂── max_length {second['start']}: the rest is cut off" in out
    assert "warning: row 4: assistant turn 2 starts at token" in out and "fully truncated" in out
    cut = out.index("✂──")
    assert "[[Hello!" in out[:cut] and "Octopuses" in out[cut:] and "[[Octopuses" not in out[cut:]


def test_preview_bad_row_and_bad_model_are_one_line_exit_2(ws_model):
    ws, ref, data, root = ws_model
    past = finetui(ws, "data", "preview", str(data), "--model", ref, "--row", "99", check=False)
    assert past.returncode == 2 and "--row 99 is past the last row" in past.stderr and past.stderr.count("\n") == 1
    bad = root / "bad.jsonl"
    bad.write_text('{"messages": "nope"}\n', encoding="utf-8")
    proc = finetui(ws, "data", "preview", str(bad), "--model", ref, check=False)
    assert proc.returncode == 2 and f"{bad}:1: messages" in proc.stderr


def test_warnings_for_a_reply_without_end_of_turn_and_a_whole_sequence_fallback():
    no_stop = CHATML.marked.replace(
        "{% generation %}{{ message['content'] + '<|im_end|>\\n' }}{% endgeneration %}",
        "{% generation %}{{ message['content'] }}{% endgeneration %}{{ '<|im_end|>\\n' }}",
    )
    tokenizer = build_tokenizer(CHATML, template=no_stop)
    length = job_sequence_length(-1, 8192)
    preview = preview_row(tokenizer, TWO_TURNS, length, row=3)
    assert preview.method == "template markers"
    assert any("assistant turn 1 ends without an end-of-turn or EOS token" in w for w in preview.warnings)

    reasoning = build_tokenizer(REASONING)
    fallback = preview_row(reasoning, WITH_REASONING[0], length)
    assert fallback.method == "whole sequence" and all(fallback.mask)
    assert any("whole-sequence loss: the chat template is not prefix-preserving" in w for w in fallback.warnings)

    summary = check_rows(reasoning, WITH_REASONING, length).summary()
    assert summary.startswith("loss mask: whole sequence, 100% of tokens trained") and "not prefix-preserving" in summary
