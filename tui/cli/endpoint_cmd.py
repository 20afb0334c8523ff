"""``finetui endpoint``: create, list, show, keys, regenerate-keys, logs, invoke, restart, delete.

Keys are printed by `endpoint keys` only; every other command leaves them out.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

import click

from finetui.core.errors import InvalidInput
from finetui.core.log_reading import follow_chunks
from finetui.core.models import Endpoint
from finetui.core.ttl import parse_duration, parse_ttl
from finetui.core.units import duration

from .common import emit, json_option, log_options, name_and_json, pass_ctx, table, write_now

REQUEST_MAX_BYTES = 16 << 20  # a request body bigger than this is not a chat request


def _uptime(ep: Endpoint) -> float | None:
    return time.time() - ep.started_at if ep.started_at and ep.state.value == "Succeeded" else None


def _idle(ep: Endpoint) -> float | None:
    if ep.state.value != "Succeeded":
        return None
    since = ep.last_request_at or ep.started_at
    return time.time() - since if since else None


def _summary(ep: Endpoint) -> None:
    click.echo(f"endpoint {ep.name}: {ep.state.value}")
    if ep.error:
        click.echo(f"  error:        {ep.error}")
    click.echo(f"  model:        {ep.model}")
    click.echo(f"  scoring uri:  {ep.scoring_uri or '-'}")
    click.echo(f"  base url:     {ep.base_url or '-'}  (OpenAI-compatible)")
    click.echo(f"  keys:         `finetui endpoint keys {ep.name}`")


@click.group("endpoint")
def endpoint() -> None:
    """Online endpoints: a registered model served with key auth."""


@endpoint.command("create")
@click.option("--model", "model", required=True, help="Registered model NAME[:VERSION] (or a catalog model).")
@click.option("--request-timeout-ms", default=90000, show_default=True, type=click.IntRange(1, 3_600_000))
@click.option(
    "--instance-type",
    default="Standard_NC6s_v3",
    show_default=True,
    help="Azure: the VM size, checked against the foundation model's inference_compute_allow_list.",
)
@click.option("--instance-count", default=1, show_default=True, type=click.IntRange(1, 1000), help="Azure: instances.")
@click.option("--deployment-name", default="demo", show_default=True, help="Azure: the deployment's name.")
@click.option(
    "--liveness-delay",
    default=600,
    show_default=True,
    type=click.IntRange(0, 3600),
    help="Azure: seconds before the first liveness probe.",
)
@click.option(
    "--readiness-delay",
    type=click.IntRange(0, 3600),
    help="Azure: seconds before the first readiness probe (default: the service's).",
)
@click.option(
    "--idle-timeout",
    help="Stop (local) or delete (Azure, from its Azure Monitor request metrics) after this long without requests, "
    "e.g. 30m (default: never).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Local: address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), help="Local: port (default: a free one).")
@click.option(
    "--max-queue",
    type=click.IntRange(0, 100_000),
    help="Local: requests that may wait beyond the generating batch before new ones get 429 (default: 32).",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Return once started: before the model is loaded (local) or before the deployment is ready and takes traffic (Azure).",
)
@click.option(
    "--ttl", help="Time to live, e.g. 2h: then the endpoint stops (local) or is deleted (Azure), whether or not finetui runs."
)
@click.option("--dry-run", is_flag=True, help="Azure: print the endpoint and deployment YAML instead of creating them.")
@name_and_json
def create(
    ctx,
    name,
    model,
    request_timeout_ms,
    instance_type,
    instance_count,
    deployment_name,
    liveness_delay,
    readiness_delay,
    idle_timeout,
    host,
    port,
    max_queue,
    no_wait,
    ttl,
    dry_run,
    as_json,
) -> None:
    """Deploy MODEL to a new endpoint NAME and wait until it answers."""
    from finetui.core.endpoint_options import AzureEndpointOptions, LocalEndpointOptions, refuse_foreign

    click_ctx = click.get_current_context()
    given = {
        key
        for key, param in (
            ("host", "host"),
            ("port", "port"),
            ("idle_timeout_s", "idle_timeout"),
            ("max_queue", "max_queue"),
            ("instance_type", "instance_type"),
            ("instance_count", "instance_count"),
            ("deployment_name", "deployment_name"),
            ("liveness_initial_delay_s", "liveness_delay"),
            ("readiness_initial_delay_s", "readiness_delay"),
        )
        if click_ctx.get_parameter_source(param) is click.core.ParameterSource.COMMANDLINE
    }
    on_azure = ctx.backend_name == "azure"
    ttl_s = parse_ttl(ttl)
    idle_timeout_s = parse_duration(idle_timeout)
    refuse_foreign("azure" if on_azure else "local", given)
    if on_azure:
        options = AzureEndpointOptions(
            instance_type=instance_type,
            instance_count=instance_count,
            deployment_name=deployment_name,
            request_timeout_ms=request_timeout_ms,
            liveness_initial_delay_s=liveness_delay,
            readiness_initial_delay_s=readiness_delay,
            idle_timeout_s=idle_timeout_s,
            wait=not no_wait,
        )
    else:
        options = LocalEndpointOptions(
            host=host,
            port=port,
            request_timeout_ms=request_timeout_ms,
            idle_timeout_s=idle_timeout_s,
            max_queue=max_queue,
            ttl_s=ttl_s,
            wait=not no_wait,
        )
    if dry_run:
        files = ctx.backend.plan_endpoint(name, model, options)
        if as_json:
            emit(files, True)
        else:
            click.echo(
                f"# endpoint.yaml: az ml online-endpoint create --file endpoint.yaml\n{files['endpoint']}"
                f"---\n# deployment.yaml: az ml online-deployment create --file deployment.yaml "
                f"--all-traffic\n{files['deployment']}",
                nl=False,
            )
        return
    if isinstance(options, LocalEndpointOptions):
        from finetui.core.endpoint_options import host_warning

        # only once it will deploy: the local backend refuses a dry run, and that refusal comes alone
        warning = host_warning(options.host)
        if warning:
            click.echo(f"warning: {warning}", err=True)
    from .eval_cmd import deploy_gate

    gate = deploy_gate(ctx, model)  # shown before deploying: did this model beat its base?
    if gate is not None and (gate.warn or not as_json):
        click.echo(("warning: " if gate.warn else "evaluation: ") + gate.message, err=True)
    if not as_json:
        click.echo(f"creating endpoint {name} for {model} ...", err=True)
    from finetui.core.ttl import create_endpoint

    ep, watcher = create_endpoint(ctx.backend, ctx.workspace_path, name, model, options, ttl_s)
    if watcher is not None and not as_json:
        when = [f"in {duration(ttl_s)}"] if ttl_s else []
        if options.idle_timeout_s:
            when.append(f"after {duration(options.idle_timeout_s)} without requests (Azure Monitor)")
        click.echo(f"ttl watcher started (process {watcher['pid']}): it deletes {name} {' or '.join(when)}", err=True)
    emit({**_jsonable(ep), "evaluation": _jsonable(gate)} if as_json else ep, as_json, _summary)


@endpoint.command("list")
@json_option
@pass_ctx
def list_endpoints(ctx, as_json) -> None:
    """Endpoints in the workspace with state, URL, uptime, idle time, price per hour and spend so far."""
    from finetui.core.meter import meter, money
    from finetui.core.prices import load_prices

    eps = ctx.backend.list_endpoints()
    prices = load_prices(ctx.workspace_path)
    meters = [meter(ep, prices) for ep in eps]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        **_jsonable(ep),
                        "uptime_s": _uptime(ep) if ep.backend == "local" else m.uptime_s,
                        "idle_s": _idle(ep),
                        **_money_fields(m),
                    }
                    for ep, m in zip(eps, meters)
                ],
                indent=2,
            )
        )
        return
    table(
        [
            [
                ep.name,
                ep.model,
                ep.state.value,
                ep.base_url or ep.scoring_uri or "-",
                duration(_uptime(ep) if ep.backend == "local" else m.uptime_s),
                duration(_idle(ep)),
                money(m.per_hour, m.currency),
                money(m.spent, m.currency),
            ]
            for ep, m in zip(eps, meters)
        ],
        ["NAME", "MODEL", "STATE", "URL", "UPTIME", "IDLE", "PER HOUR", "SPENT"],
        empty="no endpoints yet: `finetui endpoint create NAME --model MODEL`",
    )


def _money_fields(m) -> dict:
    return {"per_hour": m.per_hour, "spent": m.spent, "currency": m.currency}


def _jsonable(value):
    from finetui.core.models import to_jsonable

    return to_jsonable(value)


@endpoint.command("show")
@name_and_json
def show(ctx, name, as_json) -> None:
    """One endpoint: state, model, URLs, timeouts, process, error."""
    found = ctx.backend.endpoint_info(name)
    ep, info = found.endpoint, dict(found.details)
    if ctx.backend_name != "local":
        from finetui.core.azure.ttl_watch import read_status

        watcher = read_status(ctx.workspace_path, name)
        if watcher:
            info["ttl_watcher"] = watcher
            ep = replace(
                ep,
                ttl_s=watcher["ttl_s"],
                expires_at=watcher["expires_at"],
                idle_timeout_s=watcher.get("idle_timeout_s") or ep.idle_timeout_s,
            )
    from finetui.core.meter import meter, money
    from finetui.core.prices import load_prices

    m = meter(ep, load_prices(ctx.workspace_path))
    if as_json:
        click.echo(
            json.dumps(
                {
                    **_jsonable(ep),
                    **info,
                    "uptime_s": _uptime(ep) if ep.backend == "local" else m.uptime_s,
                    "idle_s": _idle(ep),
                    **_money_fields(m),
                },
                indent=2,
            )
        )
        return
    _summary(ep)
    click.echo(f"  openapi:      {ep.openapi_uri or '-'}")
    if info.get("swagger_uri"):
        click.echo(f"  swagger:      {info['swagger_uri']}")
    click.echo(f"  auth:         {ep.auth_mode} (Authorization: Bearer <key>)")
    click.echo(f"  timeout:      {ep.request_timeout_ms} ms per request")
    click.echo(f"  idle timeout: {duration(ep.idle_timeout_s) if ep.idle_timeout_s else 'none'}")
    if ep.expires_at:
        left = ep.expires_at - time.time()
        click.echo(f"  ttl:          {duration(ep.ttl_s)}, " + (f"ends in {duration(left)}" if left > 0 else "over"))
    click.echo(f"  uptime:       {duration(_uptime(ep) if ep.backend == 'local' else m.uptime_s)}   idle: {duration(_idle(ep))}")
    click.echo(
        f"  spend:        {money(m.spent, m.currency)} so far at {money(m.per_hour, m.currency)}/h"
        + (f" ({ep.instance_type})" if ep.instance_type else "")
    )
    watcher = info.get("ttl_watcher")
    if watcher:
        click.echo(
            f"  ttl watcher:  {watcher['state']} (process {watcher.get('pid') or '-'})"
            + (f": {watcher['reason']}" if watcher.get("reason") else "")
        )
        if watcher.get("idle_timeout_s"):
            checked = watcher.get("idle_requests")
            click.echo(
                f"  idle watch:   {duration(watcher['idle_timeout_s'])}, {watcher.get('idle_state') or '-'}"
                + (f", {checked:g} request(s) in the last check" if checked is not None else "")
                + (f": {watcher['idle_note']}" if watcher.get("idle_note") else "")
            )
    if ep.pid:
        click.echo(f"  process:      {ep.pid}")
    for key in ("model_path", "log_path"):
        if info.get(key):
            click.echo(f"  {key.replace('_', ' ') + ':':<13} {info[key]}")


@endpoint.command("keys")
@name_and_json
def keys(ctx, name, as_json) -> None:
    """Print the endpoint's primary and secondary keys (the one command that shows them)."""
    k = ctx.backend.endpoint_keys(name)
    if as_json:
        click.echo(json.dumps({"primary": k.primary, "secondary": k.secondary}, indent=2))
    else:
        click.echo(f"primary:   {k.primary}")
        click.echo(f"secondary: {k.secondary}")


@endpoint.command("regenerate-keys")
@click.option("--key", "which", required=True, type=click.Choice(["primary", "secondary"]))
@name_and_json
def regenerate_keys(ctx, name, which, as_json) -> None:
    """Replace one key; the old one stops working at once, the server keeps running."""
    ctx.backend.regenerate_endpoint_keys(name, which)
    emit(
        {"name": name, "regenerated": which},
        as_json,
        f"regenerated the {which} key of {name}; `finetui endpoint keys {name}` shows it",
    )


@endpoint.command("logs")
@log_options("Keep printing while the server runs.")
def logs(ctx, name, follow, offset) -> None:
    """Print the endpoint server's log."""
    for chunk in follow_chunks(lambda at: ctx.backend.endpoint_logs(name, at), offset, keep_going=follow):
        write_now(chunk.text)


@endpoint.command("invoke")
@click.option(
    "--request-file", required=True, type=click.Path(), help="JSON body for /score, e.g. the tutorial's sample_score.json."
)
@name_and_json
def invoke(ctx, name, request_file, as_json) -> None:
    """Send a request file to the endpoint's /score with its key and print the response."""
    from finetui.core.files import load_json, read_user_text

    body = load_json(read_user_text(request_file, "--request-file", REQUEST_MAX_BYTES), request_file)
    response = ctx.backend.invoke_endpoint(name, body)
    if as_json:
        click.echo(json.dumps(response, indent=2, ensure_ascii=False))
    else:
        click.echo(f"raw response: \n {json.dumps(response, ensure_ascii=False)}")


@endpoint.command("restart")
@name_and_json
def restart(ctx, name, as_json) -> None:
    """Stop the endpoint's server (if running) and start it again with the same keys."""
    ep = ctx.backend.restart_endpoint(name)
    emit(ep, as_json, _summary)


@endpoint.command("delete")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@name_and_json
def delete(ctx, name, yes, as_json) -> None:
    """Stop the endpoint's server and remove the endpoint and its keys."""
    if not yes:
        ctx.backend.get_endpoint(name)  # a name that does not exist is said so, not asked about
        if not sys.stdin.isatty():
            raise InvalidInput(f"deleting {name} needs confirmation: pass --yes")
        click.confirm(f"delete endpoint {name}?", abort=True)
    ctx.backend.delete_endpoint(name)
    emit({"name": name, "deleted": True}, as_json, f"deleted endpoint {name}")
