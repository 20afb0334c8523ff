"""What every CLI command shares: the context object, --json output, the error line.

Exit codes: 0 success, 2 bad usage or bad input, 1 an operation that failed.
Errors are one line on stderr naming what is wrong; commands raise the
project's typed errors and the ``finetui`` group (main.py) turns them into
that line and the exit code, in one place for every command.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from finetui.core.models import to_jsonable


@dataclass
class CliContext:
    workspace: str | None
    backend_name: str
    backend_options: dict[str, Any] = field(default_factory=dict)
    _backend: Any = None

    @property
    def workspace_path(self) -> Path:
        from finetui.core.workspace import resolve_workspace

        return resolve_workspace(self.workspace)

    @property
    def backend(self):
        if self._backend is None:
            from finetui.core.backend import get_backend

            options = dict(self.backend_options)
            if self.backend_name == "local":
                options.setdefault("workspace", self.workspace_path)
            self._backend = get_backend(self.backend_name, **options)
        return self._backend


pass_ctx = click.make_pass_decorator(CliContext)


def self_command(workspace: Path | str | None = None) -> str:
    """How to run this same finetui again from any shell: commands printed for pasting use it.

    `make app` runs `.venv/bin/finetui` with FINETUI_WORKSPACE set for that one
    command, so a bare `finetui` in a printed hint would be the wrong program
    (or none) and would look in the default workspace.
    """
    script = sys.argv[0]
    if os.path.basename(script) == "finetui" and os.path.isfile(script):
        on_path = shutil.which("finetui")
        same = on_path is not None and os.path.realpath(on_path) == os.path.realpath(script)
        command = "finetui" if same else shlex.quote(os.path.abspath(script))
    else:  # python -m finetui.tui.cli.main
        command = f"{shlex.quote(sys.executable)} -m finetui.tui.cli.main"
    return f"{command} --workspace {shlex.quote(str(workspace))}" if workspace else command


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(fn)


def name_and_json(fn: Callable) -> Callable:
    """The NAME argument, --json and the context: what every command about one named thing declares.

    A command's own options go above this decorator, so --help still lists them before --json.
    """
    return click.argument("name")(json_option(pass_ctx(fn)))


def log_options(follow_help: str) -> Callable[[Callable], Callable]:
    """NAME, --follow and --offset: what every command that prints one thing's log declares."""

    def decorate(fn: Callable) -> Callable:
        fn = click.option("--offset", default=0, type=click.IntRange(min=0), help="Start at this byte offset.")(pass_ctx(fn))
        return click.argument("name")(click.option("--follow", "-f", is_flag=True, help=follow_help)(fn))

    return decorate


def write_now(text: str) -> None:
    """Print log or reply text as it comes: no newline of its own, flushed so a pipe sees it at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


def emit(value: Any, as_json: bool, human: Callable[[Any], None] | str | None = None) -> None:
    """Print ``value`` as JSON, or through ``human`` for people."""
    if as_json:
        click.echo(json.dumps(to_jsonable(value), indent=2, default=str))
    elif callable(human):
        human(value)
    elif human is not None:
        click.echo(human)


def error_line(exc: BaseException) -> str:
    """What the user reads of an error: its first line, or its kind when it has no message."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def table(rows: list[list[str]], headers: list[str], empty: str | None = None) -> None:
    """A plain aligned table; no colour so it survives pipes, SSH and NO_COLOR.

    With no rows, ``empty`` (saying what would make some) stands in for the table.
    """
    if not rows and empty is not None:
        click.echo(empty)
        return
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    click.echo(line.rstrip())
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
