"""The pre-submit data check both backends and evaluations share (core/data/submit_check.py)."""

from __future__ import annotations

import json

import pytest

from finetui.core.data.submit_check import require_valid_data
from finetui.core.errors import DataError


def _row(i: int) -> str:
    return json.dumps(
        {
            "prompt_id": str(i),
            "messages": [{"role": "user", "content": f"q{i}", "name": "x"}, {"role": "assistant", "content": f"a{i}"}],
        }
    )


def test_one_pass_validates_and_keeps_the_first_rows(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(_row(i) for i in range(5)) + "\n")
    rows: list = []
    report = require_valid_data(path, sample=rows, sample_rows=3)
    assert report.ok and report.valid_rows == 5
    # role and content only, as the runner's copy of the data keeps them
    assert rows == [[{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}] for i in range(3)]


def test_a_bad_row_is_named_the_local_way_and_the_azure_way(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(_row(0) + '\n{"oops": 1}\n{"oops": 2}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: .*\(and 1 more problem; run `finetui data validate "):
        require_valid_data(path)
    with pytest.raises(DataError, match=r"^train file .*bad\.jsonl: line 2"):
        require_valid_data(path, "train")
