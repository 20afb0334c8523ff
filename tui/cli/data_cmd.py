"""``finetui data``: fetch, validate and show chat datasets (JSONL, ultrachat_200k schema)."""

from __future__ import annotations

import json
import sys

import click

from finetui.core.errors import InvalidInput
from finetui.core.printable import printable, printable_data

from .common import emit, json_option, pass_ctx


@click.group("data")
def data() -> None:
    """Chat datasets: one JSON object per line with a messages list of {role, content}."""


# -- validate -------------------------------------------------------------------------------
@data.command("validate")
@click.argument("file", type=click.Path())
@click.option("--model", "model_ref", help="Also measure token lengths with this catalog model's tokenizer and chat template.")
@click.option(
    "--max-seq-length",
    type=click.IntRange(min=1),
    help="Count rows longer than this many tokens (default: the length a job with the model and --spec uses).",
)
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(dir_okay=False),
    help="FineTuneSpec (YAML or JSON) whose max_seq_length the rows are measured against.",
)
@click.option(
    "--max-issues", type=click.IntRange(min=1), default=200, show_default=True, help="Report at most this many problems."
)
@json_option
@pass_ctx
def validate(ctx, file, model_ref, max_seq_length, spec_file, max_issues, as_json) -> None:
    """Check FILE row by row; exit 2 when any row is unusable.

    Blank lines are skipped; line numbers are the ones an editor shows.
    """
    from finetui.core.data.tokens import load_tokenizer
    from finetui.core.data.validate import validate_file

    tokenizer = None
    if model_ref:
        model, length = _job_length(ctx, model_ref, spec_file)
        tokenizer = load_tokenizer(model.path)
        if max_seq_length is None:
            max_seq_length = length.max_length
    elif spec_file:
        raise InvalidInput("--spec needs --model: the sequence length depends on the model's context")
    progress = _tty_progress()
    try:
        report = validate_file(file, tokenizer=tokenizer, max_seq_length=max_seq_length, max_issues=max_issues, progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    emit(report, as_json, lambda r: _print_report(file, r))
    if not report.ok:
        sys.exit(2)


def _job_length(ctx, model_ref: str, spec_file: str | None):
    from finetui.core.data.preview import job_length_for
    from finetui.core.spec import read_mapping

    return job_length_for(ctx.backend, model_ref, read_mapping(spec_file) if spec_file else {}, spec_file)


class _TtyProgress:
    """A one-line progress meter on stderr for big files, cleared before the report prints."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, message: str, fraction: float | None) -> None:
        pct = f" {fraction * 100:3.0f}%" if fraction is not None else ""
        click.echo(f"\r{message}{pct}\033[K", err=True, nl=False)
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\033[K", err=True, nl=False)


def _tty_progress() -> _TtyProgress | None:
    return _TtyProgress() if sys.stderr.isatty() else None  # only when a person is watching


def _print_report(file: str, report) -> None:
    file = printable(file)
    for issue in report.issues:
        where = f"{file}:{issue.line}:"
        click.echo(printable(f"{where} {issue.field}: {issue.reason}" if issue.field else f"{where} {issue.reason}"))
    if report.issues_truncated:
        click.echo(f"{file}: ... and {report.issues_truncated} more problem(s) not shown (raise --max-issues)")
    stats = report.token_stats
    if stats is not None:
        line = f"tokens per row: min {stats.min}, mean {stats.mean:.0f}, p50 {stats.p50}, p95 {stats.p95}, max {stats.max}"
        if stats.max_seq_length:
            line += f"; {stats.over_max} row(s) over max_seq_length {stats.max_seq_length}"
        click.echo(line)
    problems = len(report.issues) + report.issues_truncated
    verdict = "ok" if report.ok else "INVALID"
    click.echo(f"{file}: {verdict}: {report.valid_rows} of {report.rows} row(s) valid, {problems} problem(s)")


# -- show -----------------------------------------------------------------------------------
@data.command("show")
@click.argument("file", type=click.Path())
@click.option(
    "--rows", "count", type=click.IntRange(min=1), default=3, show_default=True, help="How many conversations to print."
)
@click.option(
    "--start",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Index of the first row (0-based; blank lines are not rows).",
)
@json_option
@pass_ctx
def show(ctx, file, count, start, as_json) -> None:
    """Print conversations of FILE as chat (role: content), or as JSON."""
    from finetui.core.data.jsonl import JsonlIndex

    with JsonlIndex(file) as index:
        # index only as far as the rows asked for: the head of a 1 GB file prints at once
        while index.line_count < start + count and not index.scan(8 << 20):
            pass
        total = index.line_count
        if start >= total and index.done:
            raise InvalidInput(f"{file}: --start {start} is past the last row ({total} row(s))")
        shown = []
        for i in range(start, min(total, start + count)):
            entry = {"index": i, "line": index.line_number(i)}
            try:
                entry["row"] = index.row(i)
            except InvalidInput as exc:
                entry["error"] = str(exc)
            shown.append(entry)
    emit(shown, as_json, lambda rows: _print_rows(file, rows))


def _print_rows(file: str, rows: list[dict]) -> None:
    file = printable(file)  # dataset text (and the path) never reaches the terminal with its escape sequences
    for n, entry in enumerate(printable_data(rows)):
        if n:
            click.echo("")
        click.echo(f"── row {entry['index']} ({file}:{entry['line']}) " + "─" * 20)
        if "error" in entry:
            click.echo(f"  ! {entry['error']}")
            continue
        row = entry["row"]
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list):
            click.echo("  ! no messages list: " + json.dumps(row, ensure_ascii=False)[:200])
            continue
        for message in messages:
            if not isinstance(message, dict):
                click.echo(f"  ! not a message: {json.dumps(message, ensure_ascii=False)[:200]}")
                continue
            role = str(message.get("role", "?"))
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            lines = text.splitlines() or [""]
            click.echo(f"{role}: {lines[0]}")
            pad = " " * (len(role) + 2)
            for rest in lines[1:]:
                click.echo(f"{pad}{rest}" if rest else "")


# -- preview --------------------------------------------------------------------------------
@data.command("preview")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--model", "model_ref", required=True, help="Catalog model whose tokenizer and chat template training uses.")
@click.option(
    "--row",
    "row_index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Index of the row (0-based; blank lines are not rows).",
)
@click.option(
    "--spec", "spec_file", type=click.Path(dir_okay=False), help="FineTuneSpec (YAML or JSON) whose max_seq_length applies."
)
@json_option
@pass_ctx
def preview(ctx, file, model_ref, row_index, spec_file, as_json) -> None:
    """Show row --row of FILE as training sees it: the chat template applied, trained tokens marked, the cut."""
    from finetui.core.data.jsonl import JsonlIndex
    from finetui.core.data.preview import preview_row
    from finetui.core.data.tokens import load_tokenizer
    from finetui.core.data.validate import row_problems

    model, length = _job_length(ctx, model_ref, spec_file)
    with JsonlIndex(file) as index:
        while index.line_count <= row_index and not index.scan(8 << 20):
            pass
        if row_index >= index.line_count:
            raise InvalidInput(f"{file}: --row {row_index} is past the last row ({index.line_count} row(s))")
        line, row = index.line_number(row_index), index.row(row_index)
    problems = row_problems(row)
    if problems:
        field, reason = problems[0]
        raise InvalidInput(f"{file}:{line}: {field + ': ' if field else ''}{reason}")
    result = preview_row(load_tokenizer(model.path), row["messages"], length, row_index)
    if as_json:
        emit({"file": file, "line": line, **_preview_fields(result), "text": mask_text(result, colour=False)}, True)
        return
    _print_preview(file, line, result)


def _preview_fields(p) -> dict:
    return {
        "row": p.row,
        "method": p.method,
        "reason": p.reason,
        "token_count": p.token_count,
        "trained_tokens": p.trained_tokens,
        "max_length": p.max_length,
        "max_length_why": p.length_why,
        "trained_spans": [{"start": s.start, "end": s.end, "text": s.text, "truncated": s.truncated} for s in p.spans],
        "warnings": list(p.warnings),
    }


def mask_text(p, *, colour: bool) -> str:
    from finetui.core.data.preview import TRAINED_CLOSE, TRAINED_OPEN

    """The row's text with trained tokens highlighted (or bracketed) and the truncation point marked."""
    styles = {"trained": {"fg": "green", "bold": True, "underline": True}, "cut": {"fg": "yellow"}}
    out = []
    for text, kind in p.segments():
        if colour:
            out.append(click.style(text, **styles.get(kind, {"dim": True})))
        else:
            out.append(f"{TRAINED_OPEN}{text}{TRAINED_CLOSE}" if kind == "trained" else text)
    return "".join(out)


def _print_preview(file: str, line: int, p) -> None:
    import os

    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    click.echo(f"── row {p.row} ({file}:{line}) · {p.token_count} tokens · max_length {p.max_length} ({p.length_why}) " + "─" * 4)
    click.echo(mask_text(p, colour=colour))
    from finetui.core.data.preview import TRAINED_CLOSE, TRAINED_OPEN

    how = "highlighted" if colour else f"between {TRAINED_OPEN} {TRAINED_CLOSE}"
    reason = f" ({p.reason})" if p.reason else ""
    click.echo(
        f"── loss mask: {p.method}{reason}; {p.trained_tokens} of {min(p.token_count, p.max_length)} tokens trained ({how})"
    )
    for w in p.warnings:
        click.echo(f"warning: {w}")


# -- fetch ----------------------------------------------------------------------------------
@data.command("fetch")
@click.argument("repo_id")
@click.option(
    "--split-pc",
    type=click.FloatRange(min=0, max=100, min_open=True),
    default=5,
    show_default=True,
    help="Percent of each split to take (the first rows).",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Folder to write {split}.jsonl into.")
@click.option(
    "--split", "splits", multiple=True, help="A split to fetch (repeatable; default: train_sft test_sft train_gen test_gen)."
)
@json_option
@pass_ctx
def fetch(ctx, repo_id, split_pc, out_dir, splits, as_json) -> None:
    """Download the first --split-pc percent of each split of REPO_ID (a hub dataset or a local copy) as JSONL."""
    from finetui.core.data.fetch import DEFAULT_SPLITS, fetch_dataset

    def progress(message: str, fraction: float | None) -> None:
        if not as_json:
            click.echo(message, err=True)

    written = fetch_dataset(repo_id, out_dir, split_pc=split_pc, splits=splits or DEFAULT_SPLITS, progress=progress)
    emit(written, as_json, _print_written)


def _print_written(written: dict[str, str]) -> None:
    for split, path in written.items():
        click.echo(f"{split}: {path}")
