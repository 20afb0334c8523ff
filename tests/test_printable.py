"""Dataset text never reaches the terminal with its escape sequences (`data show`, `data validate`).

A row holding ``ESC ] 0 ; title BEL`` retitled the terminal even through a pipe;
now every control character but newline and tab prints as a visible stand-in.
"""

from __future__ import annotations

import json

from cli_helpers import finetui
from finetui.core.printable import printable, printable_data

OSC_TITLE = "\x1b]0;pwned\x07"
HOSTILE = {
    "messages": [
        {"role": "user", "content": f"hi {OSC_TITLE} there\n\x1b[2Jline two\twith tab \x9b31m \x9d0;t\x9c \r\x08\x7f"},
        {"role": "assistant\x1b[31m", "content": "fine"},
    ]
}
CONTROLS = [chr(c) for c in range(0x20) if c not in (9, 10)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]


def test_data_show_prints_escape_sequences_as_visible_text(tmp_path):
    data = tmp_path / "evil.jsonl"
    data.write_text(json.dumps(HOSTILE) + "\n", encoding="utf-8")
    out = finetui(tmp_path / "ws", "data", "show", str(data), timeout=120).stdout
    assert not any(c in out for c in CONTROLS), repr(out)
    assert "hi ␛]0;pwned␇ there" in out and "␛[2Jline two\twith tab" in out and "\\x9b31m" in out
    assert "assistant␛[31m: fine" in out


def test_data_validate_report_is_printable_too(tmp_path):
    data = tmp_path / "evil.jsonl"
    data.write_text(json.dumps({"messages": [{"role": OSC_TITLE, "content": "x"}]}) + "\n", encoding="utf-8")
    proc = finetui(tmp_path / "ws", "data", "validate", str(data), check=False, timeout=120)
    assert proc.returncode == 2 and not any(c in proc.stdout for c in CONTROLS), repr(proc.stdout)


def test_printable_keeps_text_and_structure():
    assert printable("plain text, ünïcode, 中文\n\tok") == "plain text, ünïcode, 中文\n\tok"
    assert printable(OSC_TITLE) == "␛]0;pwned␇"
    assert printable_data({"k\x1b": ["\x1b", 3, None, {"x": "\x9d"}]}) == {"k␛": ["␛", 3, None, {"x": "\\x9d"}]}


def test_a_huge_value_in_a_dataset_is_quoted_short(tmp_path):
    from finetui.core.data.validate import validate_file

    data = tmp_path / "huge-role.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "r" * 1_000_000, "content": "x"}]}) + "\n", encoding="utf-8")
    report = validate_file(data)
    assert not report.ok and all(len(issue.reason) < 200 for issue in report.issues), [i.reason[:300] for i in report.issues]
