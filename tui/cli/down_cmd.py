"""``finetui down``: stop paying. Lists the endpoints that run (and bill), then deletes them after one confirmation.

With no selector every endpoint goes; ``--older-than 1h`` keeps the ones
created in the last hour. On Azure, clusters whose minimum is above zero
nodes (they bill those nodes even when idle) are set to scale down to zero. The list says what each costs per hour and what
deleting all of them saves per hour; one ``y`` (or ``--yes``) deletes them
all. A delete that fails is reported and the others still go; the exit
status is then 1.
"""

from __future__ import annotations

import json
import sys
import time

import click

from finetui.core.errors import FinetuiError, InvalidInput
from finetui.core.ttl import parse_duration
from finetui.core.units import duration

from .common import json_option, pass_ctx, table


def _age(ep, now: float) -> float | None:
    since = ep.created_at or ep.started_at
    return now - since if since else None


def _idle_clusters(ctx, prices) -> list[dict]:
    """Azure clusters that keep nodes while idle (min nodes above 0), with what those nodes cost per hour."""
    if ctx.backend_name != "azure":
        return []
    out = []
    for t in ctx.backend.list_compute():
        if t.kind == "aml-cluster" and (t.min_nodes or 0) > 0:
            price = prices.get("azure", t.vm_size)
            out.append(
                {
                    "name": t.name,
                    "vm_size": t.vm_size,
                    "min_nodes": t.min_nodes,
                    "per_hour": price.per_hour * t.min_nodes if price else None,
                }
            )
    return out


@click.command("down")
@click.option("--all", "everything", is_flag=True, help="Every endpoint (the default when no --older-than is given).")
@click.option("--older-than", help="Only endpoints created longer ago than this, e.g. 1h, 30m, 2d.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_ctx
def down(ctx, everything, older_than, yes, as_json) -> None:
    """Delete endpoints so they stop billing: shows what stops and what it saves per hour, asks once."""
    from finetui.core.meter import meter, money
    from finetui.core.prices import load_prices

    if everything and older_than:
        raise InvalidInput("give --all or --older-than, not both")
    min_age = parse_duration(older_than, "--older-than") if older_than else None
    now = time.time()
    prices = load_prices(ctx.workspace_path)
    chosen = [ep for ep in ctx.backend.list_endpoints() if min_age is None or (_age(ep, now) or 0) >= min_age]
    meters = {ep.name: meter(ep, prices, now) for ep in chosen}
    known = [m.per_hour for m in meters.values() if m.billing and m.per_hour is not None]
    unknown = [ep.name for ep in chosen if meters[ep.name].billing and meters[ep.name].per_hour is None]
    saves = sum(known)
    plan = [
        {
            "name": ep.name,
            "backend": ep.backend,
            "state": ep.state.value,
            "age_s": _age(ep, now),
            "per_hour": meters[ep.name].per_hour,
            "spent": meters[ep.name].spent,
        }
        for ep in chosen
    ]
    clusters = _idle_clusters(ctx, prices)
    saves += sum(c["per_hour"] or 0.0 for c in clusters)
    unknown += [c["name"] for c in clusters if c["per_hour"] is None]
    if not chosen and not clusters:
        if as_json:
            click.echo(
                json.dumps({"endpoints": [], "clusters": [], "saves_per_hour": 0.0, "currency": prices.currency, "deleted": []})
            )
        else:
            click.echo("nothing to stop: no endpoints" + (f" older than {older_than}" if older_than else ""))
        return
    what = " and ".join(
        x
        for x in (
            f"deleting {len(chosen)} endpoint(s)" if chosen else "",
            f"scaling {len(clusters)} cluster(s) down to 0 nodes" if clusters else "",
        )
        if x
    )
    if not as_json:
        if chosen:
            table(
                [
                    [
                        p["name"],
                        p["backend"],
                        p["state"],
                        duration(p["age_s"]),
                        money(p["per_hour"], prices.currency),
                        money(p["spent"], prices.currency),
                    ]
                    for p in plan
                ],
                ["NAME", "BACKEND", "STATE", "AGE", "PER HOUR", "SPENT"],
            )
        if clusters:
            table(
                [
                    [c["name"], c["vm_size"] or "-", f"{c['min_nodes']} -> 0", money(c["per_hour"], prices.currency)]
                    for c in clusters
                ],
                ["CLUSTER", "VM SIZE", "MIN NODES", "IDLE PER HOUR"],
            )
        note = f" (and the unknown price of {', '.join(unknown)})" if unknown else ""
        click.echo(f"{what} saves {money(saves, prices.currency)}/h{note}")
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"{what} needs confirmation: pass --yes")
        click.confirm("go ahead?", abort=True)
    deleted, failed = [], []
    for ep in chosen:
        try:
            ctx.backend.delete_endpoint(ep.name)
            deleted.append(ep.name)
            if not as_json:
                click.echo(f"deleted {ep.name}")
        except FinetuiError as exc:
            failed.append({"name": ep.name, "error": str(exc).splitlines()[0]})
            click.echo(f"error: {ep.name}: {str(exc).splitlines()[0]}", err=True)
    scaled = []
    for c in clusters:
        try:
            ctx.backend.scale_compute_to_zero(c["name"])
            scaled.append(c["name"])
            if not as_json:
                click.echo(f"cluster {c['name']} now scales down to 0 nodes when idle")
        except FinetuiError as exc:
            failed.append({"name": c["name"], "error": str(exc).splitlines()[0]})
            click.echo(f"error: {c['name']}: {str(exc).splitlines()[0]}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "endpoints": plan,
                    "clusters": clusters,
                    "saves_per_hour": saves,
                    "unknown_price": unknown,
                    "currency": prices.currency,
                    "deleted": deleted,
                    "scaled_to_zero": scaled,
                    "failed": failed,
                },
                indent=2,
            )
        )
    if failed:
        sys.exit(1)
