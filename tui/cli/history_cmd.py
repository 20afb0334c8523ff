"""``finetui history``: the actions finetui performed in this workspace, newest first, with their equivalents."""

from __future__ import annotations

import time

import click

from .common import emit, json_option, pass_ctx


def _show(entries) -> None:
    if not entries:
        click.echo("no actions recorded yet in this workspace")
        return
    for e in entries:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time))
        outcome = e.outcome if not e.error else f"{e.outcome}: {e.error}"
        click.echo(f"{stamp}  {e.backend:<6} {e.action:<24} {outcome}")
        click.echo(f"  $ {e.finetui}")
        for line in e.az:
            click.echo(f"  az: {line}")
        for line in e.sdk:
            click.echo(f"  py: {line}")
        for note in e.notes:
            click.echo(f"  note: {note}")


@click.command("history")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many actions.")
@click.option("--export", "export", help="Write the successful actions as a script: FILE.sh (bash) or FILE.py (Python).")
@json_option
@pass_ctx
def history(ctx, limit, export, as_json) -> None:
    """Every action finetui performed here (app and CLI), newest first, with its finetui, az ml and SDK lines."""
    from finetui.core.command_log import CommandLog, check_export_path

    if export:
        check_export_path(export)  # a wrong suffix is bad input before anything is read
    entries = CommandLog(ctx.workspace_path).read(limit)
    if export:
        from finetui.core.command_export import export_script

        path = export_script(entries, export)
        emit(
            {"path": str(path), "actions": sum(e.outcome == "ok" for e in entries)},
            as_json,
            f"wrote {path} ({sum(e.outcome == 'ok' for e in entries)} actions)",
        )
        return
    emit(entries, as_json, _show)
