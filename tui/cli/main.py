"""The ``finetui`` command: the headless twin of every action in the app.

Nouns: model, compute, data, job, endpoint, chat, demo, azure. With no
subcommand it opens the app on the workspace.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from finetui.core.errors import FinetuiError

from .common import CliContext, error_line, fail
from .recording import record_each_command

# Each noun lives in its own module, tui/cli/<noun>_cmd.py, as the command of the
# same name; it is imported only when that command runs, so `finetui --help` and
# the app's start stay fast.
_NOUNS = ("model", "compute", "data", "job", "demo", "endpoint", "eval", "chat", "azure", "history", "prices", "down")
_ATTRIBUTE = {"eval": "eval_group"}  # a module-level `eval` would shadow the builtin


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_NOUNS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _NOUNS:
            return None
        module = importlib.import_module(f"finetui.tui.cli.{name}_cmd")
        command: click.Command = getattr(module, _ATTRIBUTE.get(name, name))
        record_each_command(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # each noun's own first docstring sentence, wrapped rather than cut at the terminal's width
        rows = [
            (name, command.get_short_help_str(limit=200))
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        """The one error handler of every command: a typed error becomes one line on stderr and its exit code.

        Commands, the app's start (a damaged workspace database met while the
        app is set up) and the group itself all raise through here.
        """
        try:
            return super().invoke(ctx)
        except FinetuiError as exc:
            fail(error_line(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    envvar="FINETUI_WORKSPACE",
    type=click.Path(file_okay=False),
    help="Local workspace directory (env FINETUI_WORKSPACE; default: your data directory).",
)
@click.option(
    "--backend",
    envvar="FINETUI_BACKEND",
    default="local",
    show_default=True,
    help="Where operations run: local (this machine) or azure (Azure ML).",
)
@click.option("--subscription", help="Azure subscription id (azure backend; env FINETUI_AZURE_SUBSCRIPTION).")
@click.option("--resource-group", help="Azure resource group (azure backend; env FINETUI_AZURE_RESOURCE_GROUP).")
@click.option("--workspace-name", help="Azure ML workspace (azure backend; env FINETUI_AZURE_WORKSPACE_NAME).")
@click.option("--azure-config", type=click.Path(), help="config.json as MLClient.from_config reads it (azure backend).")
@click.version_option(package_name="finetui")
@click.pass_context
def cli(
    ctx: click.Context,
    workspace: str | None,
    backend: str,
    subscription: str | None,
    resource_group: str | None,
    workspace_name: str | None,
    azure_config: str | None,
) -> None:
    """finetui: fine-tune a chat model, deploy it and chat with it, from the terminal."""
    options: dict = {}
    if backend == "azure":
        from .azure_cmd import azure_options_from_env

        options = azure_options_from_env()
        given = {
            "subscription_id": subscription,
            "resource_group": resource_group,
            "workspace_name": workspace_name,
            "config_path": azure_config,
        }
        options.update({k: v for k, v in given.items() if v})
    ctx.obj = CliContext(workspace=workspace, backend_name=backend, backend_options=options)
    if ctx.invoked_subcommand is None:
        from finetui.tui.launch import launch

        cli_ctx = ctx.obj
        launch(lambda: cli_ctx.backend, cli_ctx.backend_name, cli_ctx.workspace_path)


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cli(prog_name="finetui")


if __name__ == "__main__":
    main()
