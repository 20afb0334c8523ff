"""``finetui azure``: sign-in, the workspace in use, compute creation, and per-step job logs.

The other nouns (model, compute, job, endpoint) work on Azure with
``--backend azure``; this group holds what only Azure has. Options for the
Azure backend come from ``FINETUI_AZURE_*`` variables (see
``azure_options_from_env``) or config.json, as ``MLClient.from_config`` finds it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from finetui.core.log_reading import follow_chunks
from finetui.core.models import ClusterOptions

from .common import emit, json_option, pass_ctx, table, write_now


def echo_device_code(url: str, code: str, expires_on: Any) -> None:
    """The device-code prompt, on stderr so --json output stays clean. The process's own stderr: the sign-in
    happens inside an SDK call, whose prints are captured (client.quiet), and this one must be seen."""
    click.echo(f"To sign in to Azure, open {url} and enter the code {code}", file=sys.__stderr__ or sys.stderr)


def _stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("azure: %(message)s"))
    return handler


def azure_options_from_env() -> dict[str, Any]:
    """AzureBackend options for a CLI process: FINETUI_AZURE_* plus a device-code prompt and a log handler on stderr.

    FINETUI_AZURE_SUBSCRIPTION, FINETUI_AZURE_RESOURCE_GROUP, FINETUI_AZURE_WORKSPACE_NAME,
    FINETUI_AZURE_CONFIG (a config.json path or a folder to search), FINETUI_AZURE_REGISTRY.
    """
    from finetui.core.azure.workspace import options_from_env

    # A device code can be answered only by someone at a terminal; a pipeline or cron job must not wait 15 minutes.
    no_device_code = None if sys.stdin.isatty() else "device-code sign-in needs a terminal on stdin, and this has none"
    return {
        **options_from_env(),
        "device_code_callback": echo_device_code,
        "no_device_code": no_device_code,
        "log_handler": _stderr_handler(),
    }


def _azure(ctx) -> Any:
    """The Azure backend whatever --backend says: these commands only make sense on Azure."""
    if ctx.backend_name == "azure":
        return ctx.backend
    from finetui.core.backend import get_backend

    options = {**azure_options_from_env(), **{k: v for k, v in ctx.backend_options.items() if k != "workspace"}}
    return get_backend("azure", **options)


@click.group("azure")
def azure() -> None:
    """Azure ML sign-in, workspace, compute clusters and step logs."""


@azure.command("whoami")
@json_option
@pass_ctx
def whoami(ctx, as_json) -> None:
    """Which credential signed in, as whom, in which tenant, and the workspace in use."""
    info = _azure(ctx).whoami()

    def human(d: dict) -> None:
        click.echo(f"signed in with {d['credential']} as {d.get('user') or '-'} (tenant {d.get('tenant_id') or '-'})")
        click.echo(
            f"workspace {d['workspace_name']} in resource group {d['resource_group']}, "
            f"subscription {d['subscription_id']} (from {d['workspace_source']})"
        )
        click.echo(f"registry {d['registry']}")

    emit(info, as_json, human)


@azure.command("workspace")
@json_option
@pass_ctx
def workspace(ctx, as_json) -> None:
    """The workspace the Azure backend will use (no sign-in needed)."""
    ws = _azure(ctx).workspace
    emit(
        {
            "subscription_id": ws.subscription_id,
            "resource_group": ws.resource_group,
            "workspace_name": ws.workspace_name,
            "source": ws.source,
        },
        as_json,
        ws.describe() + f" (from {ws.source})",
    )


@azure.command("compute-create")
@click.argument("name")
@click.option("--size", required=True, help="VM size, e.g. Standard_NC24ads_A100_v4.")
@click.option("--min-nodes", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--max-nodes", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--idle-time",
    "idle_seconds",
    default=120,
    show_default=True,
    type=click.IntRange(0, 604800),
    help="Seconds a node stays idle before the cluster scales down.",
)
@click.option(
    "--tier",
    type=click.Choice(["dedicated", "low_priority"]),
    default="dedicated",
    show_default=True,
    help="Dedicated nodes, or cheaper low-priority ones that can be preempted.",
)
@click.option("--no-fallback", is_flag=True, help="Fail rather than fall back to low priority when dedicated quota is short.")
@click.option("--no-wait", is_flag=True, help="Return once creation has started.")
@json_option
@pass_ctx
def compute_create(ctx, name, size, min_nodes, max_nodes, idle_seconds, tier, no_fallback, no_wait, as_json) -> None:
    """Create an AmlCompute cluster (GPU sizes only make sense for fine-tuning), showing the quota it uses."""
    options = ClusterOptions(size, min_nodes, max_nodes, idle_seconds, tier, fallback=not no_fallback, wait=not no_wait)
    created = _azure(ctx).create_compute(name, options)
    target, quota, note = created.target, created.quota, created.note
    if note and not as_json:
        click.echo(f"note: {note}", err=True)

    def human(_: Any) -> None:
        click.echo(
            f"{target.name} {target.vm_size} {target.tier or '-'} {target.min_nodes}-{target.max_nodes} nodes, "
            f"scale down after {target.idle_seconds} s idle: {target.provisioning_state or '-'}"
        )
        if quota is not None:
            click.echo(
                f"quota {quota.usage_name}: needs {quota.needed_cores} cores ({quota.cores_per_node} per node), "
                f"{quota.free_cores} of {quota.limit_cores} free"
            )
        else:
            click.echo("quota: the service reports none for this size")

    emit({"compute": target, "quota": quota, "note": note}, as_json, human)


@azure.command("steps")
@click.argument("job")
@json_option
@pass_ctx
def steps(ctx, job, as_json) -> None:
    """A pipeline job's steps in pipeline order: status, duration, compute."""
    from .job_cmd import step_rows

    found = _azure(ctx).job_steps(job)
    emit(list(found), as_json, lambda items: table(step_rows(items), ["STEP", "STATUS", "DURATION", "COMPUTE", "RUN"]))


@azure.command("log-files")
@click.argument("job")
@click.option("--step", help="Step name or run id (default: the job itself).")
@json_option
@pass_ctx
def log_files(ctx, job, step, as_json) -> None:
    """Log files of a job or one of its steps, the one shown by default first."""
    emit(_azure(ctx).list_log_files(job, step), as_json, lambda names: click.echo("\n".join(names) or "no logs yet"))


@azure.command("logs")
@click.argument("job")
@click.option("--step", help="Step name or run id (default: every step in turn).")
@click.option("--file", "file", help="Log file (default: user_logs/std_log*.txt).")
@click.option("--offset", default=0, type=click.IntRange(min=0), help="Resume from this offset.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--poll", default=5.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between polls.")
@pass_ctx
def logs(ctx, job, step, file, offset, follow, poll) -> None:
    """Print a job's log, only new lines; the last offset goes to stderr so a later call can resume."""
    backend = _azure(ctx)
    for chunk in follow_chunks(
        lambda at: backend.read_log(job, at, step=step, file=file), offset, keep_going=follow, poll_s=poll
    ):
        write_now(chunk.text)
        offset = chunk.next_offset
    click.echo(f"offset {offset}", err=True)
