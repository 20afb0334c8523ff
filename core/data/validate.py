"""Check a chat dataset (JSONL in the ultrachat_200k schema) before a job uses it.

The file is streamed line by line as bytes, so a 1 GB file costs a few MB.
Every problem becomes a ``ValidationIssue`` with a 1-based line number and a
field path (``messages[2].role``); a file that is not JSON Lines at all (a JSON
array, a pretty-printed document, CSV, Parquet, a binary) gets one clear
whole-file issue instead of one error per line.

Blank (whitespace-only) lines are tolerated and skipped: ``datasets`` and
pandas skip them too. They are not counted in ``rows``, but line numbers still
count them, so an issue's line is the line an editor shows.
"""

from __future__ import annotations

import codecs
import json
import os
from array import array
from pathlib import Path
from typing import Any, Callable

from .. import units
from ..errors import json_problem, quote
from ..files import open_regular
from ..models import ValidationIssue, ValidationReport
from .tokens import load_tokenizer, require_chat_template, token_lengths, token_stats

__all__ = ["ROLES", "kind_of", "load_tokenizer", "row_problems", "validate_file"]

ROLES = ("system", "user", "assistant")
DEFAULT_MAX_ROW_BYTES = 8 * 1024 * 1024
_TOKEN_BATCH = 64
_PROGRESS_EVERY = 16 << 20

# Signatures of files people hand us by mistake; message says what the file is and what to do.
_MAGIC = (
    (b"PAR1", "the file is Parquet; convert it to JSON Lines (one object per line)"),
    (b"\x1f\x8b", "the file is gzip-compressed; decompress it first"),
    (b"PK\x03\x04", "the file is a zip archive; extract the .jsonl file from it"),
    (codecs.BOM_UTF16_LE, "the file is UTF-16; save it as UTF-8"),
    (codecs.BOM_UTF16_BE, "the file is UTF-16; save it as UTF-8"),
)


def kind_of(value: Any) -> str:
    """A JSON-ish name for a Python value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_TURNS = ("user", "assistant")


def _well_formed(messages: Any) -> bool:
    """The common case, checked quickly: well-typed turns in the expected order; anything else takes the slow path."""
    try:
        roles = [m["role"] for m in messages]
        for m in messages:
            content = m["content"]
            if type(content) is not str or not content or content.isspace():
                return False
    except (TypeError, KeyError):
        return False
    start = 1 if roles and roles[0] == "system" else 0
    n = len(roles) - start
    return n >= 2 and n % 2 == 0 and roles[start:] == list(_TURNS * (n // 2))


def row_problems(row: Any) -> list[tuple[str | None, str]]:
    """(field, reason) for everything wrong with one parsed row; empty when the row is usable."""
    if type(row) is dict and type(row.get("messages")) is list and _well_formed(row["messages"]):
        return []
    if not isinstance(row, dict):
        if isinstance(row, list) and row and all(isinstance(m, dict) and "role" in m for m in row):
            return [(None, 'row is a bare list of messages; write it as {"messages": [...]}')]
        return [(None, f"row must be a JSON object with a messages list, got {kind_of(row)}")]
    if "messages" not in row:
        return [("messages", "missing; each row needs a messages list of {role, content} objects")]
    messages = row["messages"]
    if not isinstance(messages, list):
        return [("messages", f"must be a list of {{role, content}} objects, got {kind_of(messages)}")]
    if not messages:
        return [("messages", "is empty; a conversation needs a user turn and an assistant turn")]
    out: list[tuple[str | None, str]] = []
    roles: list[str] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            out.append((where, f"must be an object with role and content, got {kind_of(message)}"))
            continue
        role = message.get("role")
        if "role" not in message:
            out.append((f"{where}.role", "missing; use system, user or assistant"))
        elif not isinstance(role, str):
            out.append((f"{where}.role", f"must be a string, got {kind_of(role)}"))
        elif role not in ROLES:
            out.append((f"{where}.role", f"unknown role {quote(role)}; use system, user or assistant"))
        else:
            roles.append(role)
        content = message.get("content")
        if "content" not in message:
            out.append((f"{where}.content", "missing"))
        elif not isinstance(content, str):
            out.append((f"{where}.content", f"must be a string, got {kind_of(content)}"))
        elif not content or content.isspace():
            out.append((f"{where}.content", "is empty"))
    if not out:
        out.extend(_order_problems(roles))
    return out


def _order_problems(roles: list[str]) -> list[tuple[str | None, str]]:
    """An optional system message first, then user/assistant alternating from the user, ending with the assistant."""
    expected = "user"
    first_turn = 1 if roles[0] == "system" else 0
    for i, role in enumerate(roles):
        field = f"messages[{i}].role"
        if role == "system":
            if i > 0:
                return [(field, f"system message at message {i + 1}; only the first message may be a system message")]
            continue
        if role != expected:
            if i == first_turn:
                return [
                    (
                        field,
                        f"the conversation starts with an assistant turn at message {i + 1}; the first turn must be from the user",
                    )
                ]
            return [(field, f"two {role} turns in a row at message {i + 1}; user and assistant turns must alternate")]
        expected = "assistant" if role == "user" else "user"
    last = len(roles) - 1
    if roles[last] == "system":
        return [("messages", "has only a system message; add a user turn and an assistant turn")]
    if roles[last] != "assistant":
        return [
            (
                f"messages[{last}]",
                f"the conversation ends with a user turn at message {last + 1}; the last message must be from the assistant",
            )
        ]
    return []


class _Issues:
    def __init__(self, cap: int) -> None:
        self.cap, self.truncated = max(0, cap), 0
        self.items: list[ValidationIssue] = []

    def add(self, line: int, reason: str, field: str | None = None) -> None:
        if len(self.items) < self.cap:
            self.items.append(ValidationIssue(line=line, reason=reason, field=field))
        else:
            self.truncated += 1


def _sniff_binary(head: bytes) -> str | None:
    for magic, message in _MAGIC:
        if head.startswith(magic):
            return f"not JSON Lines: {message}"
    if b"\x00" in head:
        return "not JSON Lines: the file looks binary (it contains NUL bytes)"
    return None


def _first_line_verdict(text: str, parsed: Any, failed: bool) -> tuple[str | None, bool]:
    """(whole-file message, certain) judged from the first non-blank line.

    ``certain`` False means the verdict stands only if the next line is not JSON
    either: one malformed first row in a good file is a row problem.
    """
    head = text.lstrip()
    if head.startswith("["):
        array_message = "not JSON Lines: the file looks like a single JSON array; write one JSON object per line"
        if failed:
            return array_message, True
        if isinstance(parsed, list) and parsed and all(isinstance(x, dict) for x in parsed):
            return array_message, False  # unless more lines follow: then each line is a list, a row problem
        return None, True
    if head.startswith("{"):
        if failed and head.rstrip() == "{":
            return (
                "not JSON Lines: the file looks like one pretty-printed JSON document over several lines; write one object per line",
                True,
            )
        return None, True
    if not failed:
        return None, True
    line = text.strip()
    shown = line if len(line) <= 60 else line[:57] + "..."
    if any(sep in text for sep in (",", "\t", ";")):
        return f"not JSON Lines: the file looks like CSV/TSV (line starts {shown!r}); write one JSON object per line", False
    return f"not JSON Lines: the line is not JSON ({shown!r}); write one JSON object per line", False


def _skip_rest_of_line(f: Any) -> int:
    """Read past the rest of a line; return its bytes, not counting the newline."""
    skipped = 0
    while True:
        chunk = f.readline(1 << 20)
        if chunk.endswith(b"\n"):
            return skipped + len(chunk) - 1
        skipped += len(chunk)
        if not chunk:
            return skipped


def validate_file(
    path: str | os.PathLike[str],
    *,
    tokenizer: Any = None,
    max_seq_length: int | None = None,
    max_issues: int = 200,
    max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
    progress: Callable[[str, float | None], None] | None = None,
    sample: list[list[dict[str, Any]]] | None = None,
    sample_rows: int = 0,
) -> ValidationReport:
    """Validate a chat JSONL file; with a tokenizer (with a chat template) also measure token lengths.

    ``sample`` receives the first ``sample_rows`` valid conversations, role and content only, so a
    caller that also masks rows (job submit) need not read the file again.
    """
    p = Path(path).expanduser()
    fd = open_regular(p)  # a FIFO, a device or a symlink loop fails here, in one line
    try:
        if tokenizer is not None:
            require_chat_template(tokenizer, str(p))
        size = os.fstat(fd).st_size
    except BaseException:
        os.close(fd)
        raise
    issues = _Issues(max_issues)
    rows = valid = 0
    lengths = array("L")
    pending: list[list[dict[str, Any]]] = []
    report = lambda: ValidationReport(  # noqa: E731
        path=str(p),
        rows=rows,
        valid_rows=valid,
        issues=tuple(issues.items),
        issues_truncated=issues.truncated,
        token_stats=token_stats(lengths, max_seq_length),
    )
    if size == 0:
        os.close(fd)
        issues.add(0, "file is empty")
        return report()
    with os.fdopen(fd, "rb") as f:
        whole = _sniff_binary(f.read(8192))
        if whole:
            issues.add(0, whole)
            return report()
        f.seek(0)
        lineno = 0
        first: tuple[int, str, Any, str | None] | None = None  # a first line awaiting the next line's verdict
        seen_row = False
        next_progress = _PROGRESS_EVERY
        while True:
            raw = f.readline(max_row_bytes + 1)
            if not raw:
                break
            lineno += 1
            if progress is not None and f.tell() >= next_progress:
                next_progress += _PROGRESS_EVERY
                progress(f"validating {p.name}", f.tell() / size)
            if len(raw) > max_row_bytes and not raw.endswith(b"\n"):
                total = len(raw) + _skip_rest_of_line(f)
                rows += 1
                seen_row = True
                issues.add(
                    lineno,
                    f"row is {units.size(total)}{f' ({total} bytes)' if total >= 1024 else ''}, over the {units.size(max_row_bytes)} limit; not parsed",
                )
                continue
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if not raw.strip():
                continue
            rows += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                seen_row = True
                issues.add(lineno, f"invalid UTF-8 at byte {exc.start + 1} of the line; save the file as UTF-8")
                continue
            try:
                row, failure = json.loads(text), None
            except json.JSONDecodeError as exc:
                row, failure = None, f"malformed JSON: {json_problem(exc)}"
            if first is not None:  # the first line left the format in doubt: this line decides
                first_line, first_verdict, first_row, first_failure = first
                first = None
                if failure is not None:
                    return _whole_file(report, issues, first_line, first_verdict)
                for field, reason in [(None, first_failure)] if first_failure else row_problems(first_row):
                    issues.add(first_line, reason, field)
            elif not seen_row:
                verdict, certain = _first_line_verdict(text, row, failure is not None)
                if verdict and certain:
                    return _whole_file(report, issues, lineno, verdict)
                if verdict:
                    first = (lineno, verdict, row, failure)
                    seen_row = True
                    continue
            seen_row = True
            if failure is not None:
                issues.add(lineno, failure)
                continue
            problems = row_problems(row)
            for field, reason in problems:
                issues.add(lineno, reason, field)
            if problems:
                continue
            valid += 1
            if sample is not None and len(sample) < sample_rows:
                sample.append([{"role": m["role"], "content": m["content"]} for m in row["messages"]])
            if tokenizer is not None:
                pending.append(row["messages"])
                if len(pending) >= _TOKEN_BATCH:
                    lengths.extend(token_lengths(tokenizer, pending))
                    pending.clear()
        if first is not None:  # a single line that is not JSON
            return _whole_file(report, issues, first[0], first[1])
    if pending:
        lengths.extend(token_lengths(tokenizer, pending))
    if rows == 0:
        issues.add(0, "file has only blank lines")
    return report()


def _whole_file(report: Callable[[], ValidationReport], issues: _Issues, line: int, message: str) -> ValidationReport:
    issues.items.clear()
    issues.truncated = 0
    issues.add(line, message)
    out = report()
    return ValidationReport(path=out.path, rows=out.rows, valid_rows=0, issues=out.issues, issues_truncated=0)
