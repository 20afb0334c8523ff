"""Edge cases of the JSONL index and the validator: chunk boundaries, threads, fast path, bare lists."""

from __future__ import annotations

import json
import random
import threading

from finetui.core.data import validate as validate_mod
from finetui.core.data.jsonl import JsonlIndex
from finetui.core.data.tokens import token_stats
from finetui.core.data.validate import row_problems, validate_file

GOOD = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}


def _expected_rows(data: bytes) -> list[tuple[int, bytes]]:
    """(1-based line, row bytes) of every non-blank line, by the plainest possible reading."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [(n + 1, line.rstrip(b"\r")) for n, line in enumerate(lines) if line.strip()]


def test_index_matches_a_plain_split_at_every_chunk_boundary(tmp_path):
    rng = random.Random(11)
    path = tmp_path / "f.jsonl"
    for trial in range(300):
        parts = []
        for _ in range(rng.randint(0, 7)):
            if rng.random() < 0.25:
                parts.append(rng.choice(["", "  ", "\r", " \t "]))
            else:
                row = {"i": trial, "s": "žé日" * rng.randint(0, 4)}
                parts.append(json.dumps(row, ensure_ascii=False) + rng.choice(["", "\r", " "]))
        data = ("\n".join(parts) + rng.choice(["", "\n", "\r\n", "\n\n"])).encode()
        path.write_bytes(data)
        expected = _expected_rows(data)
        with JsonlIndex(path) as index:
            step = rng.randint(1, 9)  # tiny slices put a boundary inside every kind of line
            while not index.scan(step):
                if index.line_count:  # rows published mid-scan are complete
                    assert index.row_bytes(index.line_count - 1) == expected[index.line_count - 1][1]
            got = [(index.line_number(i), index.row_bytes(i)) for i in range(index.line_count)]
        assert got == expected, (trial, data)


def test_index_scanning_thread_and_reader_thread(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"n": i, "pad": "x" * (i % 50)}) + "\n" for i in range(20000)))
    index = JsonlIndex(path)
    errors: list[str] = []

    def scanner() -> None:
        while not index.scan(4096):
            pass

    thread = threading.Thread(target=scanner)
    thread.start()
    rng = random.Random(5)
    reads = 0
    while thread.is_alive() or reads < 200:
        count = index.line_count
        if count:
            i = rng.randrange(count)
            if index.row(i)["n"] != i:
                errors.append(f"row {i}")
            reads += 1
    thread.join()
    index.close()
    assert not errors and index.line_count == 20000 and reads >= 200


def test_last_row_is_read_to_its_newline_while_scanning(tmp_path):
    path = tmp_path / "d.jsonl"
    big = json.dumps({"messages": GOOD["messages"], "pad": "p" * 300_000})
    path.write_text(json.dumps(GOOD) + "\n" + big + "\n" + json.dumps(GOOD) + "\n")
    with JsonlIndex(path) as index:
        index.scan(len(json.dumps(GOOD)) + len(big) + 5)  # the big row's newline is found, the next row's is not
        assert index.line_count == 2
        assert index.row(-1)["pad"] == "p" * 300_000


def _conversation(rng: random.Random) -> list:
    """A valid conversation, then (most of the time) one random defect."""
    messages = [{"role": "system", "content": "Be brief."}] if rng.random() < 0.3 else []
    for _ in range(rng.randint(1, 3)):
        messages += [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    if rng.random() < 0.7:
        i = rng.randrange(len(messages))
        defect = rng.randrange(7)
        if defect == 0:
            messages[i]["role"] = rng.choice(["user", "assistant", "system", "bot", 5, None])
        elif defect == 1:
            messages[i]["content"] = rng.choice(["", " \n", 5, None, ["a"]])
        elif defect == 2:
            del messages[i][rng.choice(["role", "content"])]
        elif defect == 3:
            messages[i] = rng.choice(["text", 3, None, []])
        elif defect == 4:
            messages.append({"role": "user", "content": "more"})
        elif defect == 5:
            messages.insert(i, {"role": rng.choice(["user", "assistant", "system"]), "content": "x"})
        else:
            del messages[i]
    return messages


def test_fast_path_agrees_with_the_full_check(monkeypatch):
    rng = random.Random(3)
    rows = [{"messages": _conversation(rng)} for _ in range(3000)]
    fast = [row_problems(r) for r in rows]
    monkeypatch.setattr(validate_mod, "_well_formed", lambda messages: False)
    slow = [row_problems(r) for r in rows]
    assert fast == slow
    valid = sum(1 for p in slow if not p)
    assert 500 < valid < 2500  # both paths well exercised


def test_rows_that_are_bare_message_lists(tmp_path):
    bare = json.dumps(GOOD["messages"])
    path = tmp_path / "bare.jsonl"
    path.write_text(bare + "\n" + bare + "\n")
    report = validate_file(path)
    assert [(i.line, i.reason) for i in report.issues] == [
        (1, 'row is a bare list of messages; write it as {"messages": [...]}'),
        (2, 'row is a bare list of messages; write it as {"messages": [...]}'),
    ]
    path.write_text(json.dumps([GOOD, GOOD]))  # one array, one line, no newline
    report = validate_file(path)
    assert len(report.issues) == 1 and "single JSON array" in report.issues[0].reason


def test_huge_last_row_without_newline_and_progress(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + '{"messages": "' + "x" * 5000)
    seen = []
    report = validate_file(path, max_row_bytes=1000, progress=lambda message, fraction: seen.append(fraction))
    assert [(i.line, i.field) for i in report.issues] == [(2, None)]
    assert "over the 1000 B limit" in report.issues[0].reason
    assert report.rows == 2 and report.valid_rows == 1


def test_token_percentiles_are_nearest_rank():
    stats = token_stats(list(range(1, 101)), max_seq_length=90)
    assert (stats.count, stats.min, stats.max, stats.mean) == (100, 1, 100, 50.5)
    assert (stats.p50, stats.p95, stats.over_max) == (50, 95, 10)
    assert token_stats([], None) is None
