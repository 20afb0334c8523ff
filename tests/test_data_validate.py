"""validate_file: every kind of bad row is reported with its line, field and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_factory import tiny_chat_tokenizer, ultrachat_rows, write_jsonl
from finetui.core.data.validate import validate_file
from finetui.core.errors import InvalidInput

GOOD = {
    "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
    "prompt": "Hi",
    "prompt_id": "ab",
}


def _file(tmp_path: Path, lines: list[str | bytes], name: str = "d.jsonl") -> Path:
    p = tmp_path / name
    with open(p, "wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else line.encode("utf-8"))
            f.write(b"\n")
    return p


def _row(messages) -> str:
    return json.dumps({"messages": messages})


def _only_issue(report, line: int):
    issues = [i for i in report.issues if i.line == line]
    assert len(issues) == 1, report.issues
    return issues[0]


BAD_ROWS = [
    # (line text, field, words in the reason)
    ('{"messages": [', None, "malformed JSON"),
    (json.dumps({"prompt": "x"}), "messages", "missing"),
    (json.dumps({"messages": "hi"}), "messages", "must be a list"),
    (json.dumps({"messages": []}), "messages", "is empty"),
    (
        _row([{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]),
        "messages[0].role",
        "unknown role 'robot'",
    ),
    (_row([{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}]), "messages[0].content", "is empty"),
    (
        _row([{"role": "user", "content": ["a"]}, {"role": "assistant", "content": "y"}]),
        "messages[0].content",
        "must be a string, got a list",
    ),
    (
        _row([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]),
        "messages[2]",
        "ends with a user turn",
    ),
    (
        _row([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]),
        "messages[1].role",
        "two user turns in a row",
    ),
    (
        _row([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]),
        "messages[0].role",
        "starts with an assistant turn",
    ),
    (
        _row([{"role": "user", "content": "a"}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "c"}]),
        "messages[1].role",
        "only the first message may be a system message",
    ),
    (_row(["hello", {"role": "assistant", "content": "c"}]), "messages[0]", "must be an object"),
    (_row([{"content": "a"}, {"role": "assistant", "content": "c"}]), "messages[0].role", "missing"),
    ("[1, 2]", None, "got a list"),
    ("42", None, "got a number"),
]


@pytest.mark.parametrize("text,field,reason", BAD_ROWS, ids=[r[2] for r in BAD_ROWS])
def test_bad_row_reported_at_its_line(tmp_path, text, field, reason):
    p = _file(tmp_path, [json.dumps(GOOD), json.dumps(GOOD), text, json.dumps(GOOD)])
    report = validate_file(p)
    assert not report.ok
    assert report.rows == 4 and report.valid_rows == 3
    issue = _only_issue(report, 3)
    assert issue.field == field
    assert reason in issue.reason


def test_invalid_utf8_reported_with_line(tmp_path):
    bad = json.dumps(GOOD).encode().replace(b"Hello!", b"Hel\xff\xfelo")
    report = validate_file(_file(tmp_path, [json.dumps(GOOD), bad]))
    assert "invalid UTF-8" in _only_issue(report, 2).reason
    assert report.valid_rows == 1


def test_huge_row_is_reported_not_parsed(tmp_path):
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 5000}, {"role": "assistant", "content": "y"}]})
    report = validate_file(_file(tmp_path, [json.dumps(GOOD), big, json.dumps(GOOD)]), max_row_bytes=1024)
    issue = _only_issue(report, 2)
    assert "over the" in issue.reason and str(len(big)) in issue.reason
    assert report.rows == 3 and report.valid_rows == 2


def test_empty_file(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"")
    report = validate_file(p)
    assert not report.ok
    assert [(i.line, i.reason) for i in report.issues] == [(0, "file is empty")]


def test_missing_file_names_it(tmp_path):
    with pytest.raises(InvalidInput, match="nope.jsonl"):
        validate_file(tmp_path / "nope.jsonl")


def test_json_array_file_is_one_clear_issue(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps([GOOD, GOOD], indent=2))
    report = validate_file(p)
    assert len(report.issues) == 1
    assert report.issues[0].line == 1
    assert "single JSON array" in report.issues[0].reason


def test_one_line_json_array_is_one_clear_issue(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps([GOOD, GOOD]) + "\n")
    report = validate_file(p)
    assert len(report.issues) == 1 and "JSON array" in report.issues[0].reason


def test_csv_file_is_one_clear_issue(tmp_path):
    p = _file(tmp_path, ["prompt,response", "hi,hello", "bye,goodbye"], "d.csv")
    report = validate_file(p)
    assert len(report.issues) == 1
    assert report.issues[0].line == 1 and "CSV" in report.issues[0].reason


def test_binary_file_is_one_clear_issue(tmp_path):
    p = tmp_path / "d.parquet"
    p.write_bytes(b"PAR1" + bytes(range(256)) * 4)
    report = validate_file(p)
    assert len(report.issues) == 1 and "Parquet" in report.issues[0].reason


def test_bad_first_row_in_a_good_file_is_a_row_problem(tmp_path):
    report = validate_file(_file(tmp_path, ["not json at all", json.dumps(GOOD)]))
    issue = _only_issue(report, 1)
    assert "malformed JSON" in issue.reason
    assert report.valid_rows == 1


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path):
    p = _file(tmp_path, [json.dumps(GOOD), "", "   ", '{"messages": 1}', ""])
    report = validate_file(p)
    assert report.rows == 2 and report.valid_rows == 1
    assert _only_issue(report, 4).field == "messages"


def test_issues_are_capped_and_counted(tmp_path):
    p = _file(tmp_path, ['{"x": 1}'] * 30 + [json.dumps(GOOD)])
    report = validate_file(p, max_issues=5)
    assert len(report.issues) == 5 and report.issues_truncated == 25
    assert [i.line for i in report.issues] == [1, 2, 3, 4, 5]


def test_ultrachat_shaped_file_is_ok(tmp_path):
    p = write_jsonl(tmp_path / "train.jsonl", ultrachat_rows(50, avg_bytes=800))
    report = validate_file(p)
    assert report.ok, report.issues
    assert report.rows == report.valid_rows == 50
    assert report.token_stats is None


def test_system_prompt_first_is_fine(tmp_path):
    row = _row(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    )
    assert validate_file(_file(tmp_path, [row])).ok


def test_token_stats_with_a_chat_tokenizer(tmp_path):
    tokenizer = tiny_chat_tokenizer()
    short = _row([{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}])
    long = _row([{"role": "user", "content": "hello there " * 20}, {"role": "assistant", "content": "the model " * 20}])
    p = _file(tmp_path, [short, short, long, '{"bad": 1}'])
    report = validate_file(p, tokenizer=tokenizer, max_seq_length=30)
    stats = report.token_stats
    assert stats is not None and stats.count == 3  # only valid rows are measured
    expected = [
        len(tokenizer.apply_chat_template(json.loads(r)["messages"], tokenize=True)["input_ids"]) for r in (short, short, long)
    ]
    assert stats.min == min(expected) and stats.max == max(expected)
    assert stats.max_seq_length == 30 and stats.over_max == sum(1 for n in expected if n > 30) == 1
    assert stats.p50 == sorted(expected)[1]
