"""Record every CLI action in the workspace's command log (core/command_log.py).

``recorded`` wraps a command's body (``record_each_command`` applies it to
every command of a noun as the ``finetui`` group loads it): whatever the command does, success, a typed error, an exit or ^C,
one entry is appended with the ``finetui`` line that repeats it, built from
the parameters the user gave on the command line (paths made absolute, keys
as ``$ENDPOINT_KEY``) and, on Azure, the ``az ml`` and SDK equivalents.
Recording never changes the command's outcome: a log that cannot be written
is one warning line on stderr (none when the command itself failed).
"""

from __future__ import annotations

import functools
import os
import shlex
from typing import Any, Callable

import click

from finetui.core.command_log import KEY_VAR, LoggedAction, finetui_command, now, outcome_of, record
from finetui.core.errors import FinetuiError

from .common import CliContext, error_line

SECRET_PARAMS = {"key"}  # chat --key: never written anywhere
PATH_PARAMS = {"train_file", "test_file", "request_file", "spec_file", "file", "path", "out_dir", "azure_config"}
NOT_RECORDED = {"history"}  # reading the log is not an action
_GLOBAL_FLAGS = {
    "subscription_id": "--subscription",
    "resource_group": "--resource-group",
    "workspace_name": "--workspace-name",
    "config_path": "--azure-config",
}


def _is_path(param: click.Parameter) -> bool:
    return isinstance(param.type, click.Path) or param.name in PATH_PARAMS


def _option_name(param: click.Option) -> str:
    return max(param.opts, key=len)


def command_tokens(ctx: click.Context) -> tuple[list[str], bool]:
    """The leaf command's words and the parameters given on its command line; True if a key was left out."""
    words = ctx.command_path.split()[1:]
    args: list[str] = []
    opts: list[str] = []
    hid_key = False
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) is not click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params.get(param.name)
        if param.name in SECRET_PARAMS:
            opts += [_option_name(param), KEY_VAR]
            hid_key = True
            continue
        values = list(value) if (param.multiple or (param.nargs != 1 and isinstance(value, (tuple, list)))) else [value]
        if _is_path(param):
            values = [os.path.abspath(v) if isinstance(v, str) else v for v in values]
        if isinstance(param, click.Argument):
            args += [str(v) for v in values if v is not None]
        elif getattr(param, "is_flag", False):
            if value:
                opts.append(_option_name(param))
        elif param.multiple:
            for v in values:
                opts += [_option_name(param), *(map(str, v) if isinstance(v, (tuple, list)) else [str(v)])]
        else:
            opts += [_option_name(param), *(str(v) for v in values)]
    return words + args + opts, hid_key


def finetui_line(cli_ctx: Any, tokens: list[str], target: Any = None) -> str:
    given = []
    for key, flag in _GLOBAL_FLAGS.items():
        value = cli_ctx.backend_options.get(key)
        if value:
            given += [flag, os.path.abspath(str(value)) if key == "config_path" else str(value)]
    return finetui_command(cli_ctx.workspace_path, cli_ctx.backend_name, tokens, target, tuple(given))


def _azure_target(cli_ctx: Any):
    from finetui.core.equivalents import AzureTarget

    backend = cli_ctx._backend
    if backend is not None:  # built: the workspace and registry it acted on
        return backend.azure_target()
    try:
        from finetui.core.azure.workspace import resolve_azure_workspace

        opts = cli_ctx.backend_options
        ws = resolve_azure_workspace(
            opts.get("subscription_id"), opts.get("resource_group"), opts.get("workspace_name"), opts.get("config_path")
        )
    except FinetuiError:
        return None
    return AzureTarget(
        ws.subscription_id, ws.resource_group, ws.workspace_name, cli_ctx.backend_options.get("registry_name") or "azureml"
    )


def build_entry(ctx: click.Context, cli_ctx: Any, exit_code: int, error: str | None) -> LoggedAction:
    tokens, hid_key = command_tokens(ctx)
    if exit_code == 0 and ctx.params.get("yes") is False and "yes" in {p.name for p in ctx.command.params}:
        tokens.append("--yes")  # the user confirmed; the line repeats the action without asking again
    action = " ".join(ctx.command_path.split()[1:])
    az: list[str] = []
    sdk: list[str] = []
    notes: list[str] = []
    target = _azure_target(cli_ctx) if cli_ctx.backend_name == "azure" else None
    if target is not None:
        from finetui.core.equivalents import azure_equivalents

        params = {
            p.name: os.path.abspath(v) if _is_path(p) and isinstance(v, str) else v
            for p in ctx.command.params
            for v in [ctx.params.get(p.name)]
        }
        eq = azure_equivalents(action, params, target)
        az, sdk, notes = eq.az, eq.sdk, eq.notes
    endpoint = ctx.params.get("endpoint") or ctx.params.get("name")
    if hid_key:
        where = (
            f"finetui --workspace {shlex.quote(str(cli_ctx.workspace_path))} endpoint keys {endpoint}"
            if endpoint and "/" not in endpoint
            else "whoever runs the endpoint"
        )
        notes.append(f"ENDPOINT_KEY: the endpoint's key, from `{where}`")
    return LoggedAction(
        time=now(),
        backend=cli_ctx.backend_name,
        action=action,
        outcome=outcome_of(exit_code),
        exit_code=exit_code,
        error=error,
        finetui=finetui_line(cli_ctx, tokens, target),
        az=tuple(az),
        sdk=tuple(sdk),
        notes=tuple(notes),
    )


def _save(exit_code: int, error: str | None) -> None:
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command_path.split()[1:2] and ctx.command_path.split()[1] in NOT_RECORDED:
        return
    cli_ctx = ctx.find_object(CliContext)
    if cli_ctx is None:
        return
    try:
        root = cli_ctx.workspace_path
        if cli_ctx.backend_name != "local" and not root.exists():
            root.mkdir(parents=True, mode=0o700)  # Azure work is logged even where no local work was done yet
        entry = build_entry(ctx, cli_ctx, exit_code, error)
    except Exception as exc:  # the log line is not worth the command's own outcome
        _warn(exit_code, f"the command log was not written ({type(exc).__name__}: {exc})")
        return
    try:
        record(root, entry)
    except OSError as exc:
        _warn(exit_code, f"the command log was not written ({exc.strerror or exc})")
    except FinetuiError as exc:
        _warn(exit_code, str(exc))


def _warn(exit_code: int, message: str) -> None:
    """A log that cannot be written is worth a line only beside a success: a failed command has already
    printed its one line, usually for the same cause (a read-only or full workspace)."""
    if exit_code == 0:
        click.echo(f"warning: {message}", err=True)


def recorded(fn: Callable) -> Callable:
    """Run a command's body and log it, whatever the outcome; the outcome itself is left as it was."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except FinetuiError as exc:
            _save(exc.exit_code, error_line(exc))
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            _save(code, None)
            raise
        except KeyboardInterrupt:
            _save(130, "interrupted")
            raise
        except click.exceptions.Abort:
            _save(1, "aborted at the confirmation")
            raise
        except click.exceptions.ClickException as exc:
            _save(exc.exit_code, exc.format_message())
            raise
        _save(0, None)
        return result

    return wrapper


_RECORDED: set[click.Command] = set()


def record_each_command(command: click.Command) -> None:
    """Wrap the body of ``command`` (or of every command under a group) in ``recorded``, once.

    The nouns' modules are imported once per process, but the group may look a
    noun up several times (help, then the call), hence the set of those done.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            record_each_command(sub)
    elif command.callback is not None and command not in _RECORDED:
        command.callback = recorded(command.callback)
        _RECORDED.add(command)
