"""``finetui prices``: what an hour of each compute costs, and ``prices refresh`` from Azure's public price list."""

from __future__ import annotations

import click

from .common import emit, json_option, pass_ctx, table


@click.group("prices", invoke_without_command=True)
@json_option
@pass_ctx
@click.pass_context
def prices(click_ctx, ctx, as_json) -> None:
    """Prices per hour by backend and SKU, with their source and date (the workspace's prices.json wins)."""
    if click_ctx.invoked_subcommand is None:
        show.callback(as_json=as_json)


@prices.command("show")
@json_option
@pass_ctx
def show(ctx, as_json) -> None:
    """The price table (the same as `finetui prices`)."""
    from finetui.core.prices import load_prices

    t = load_prices(ctx.workspace_path)
    rows = t.rows()
    if as_json:
        emit(
            {
                "currency": t.currency,
                "region": t.region,
                "as_of": t.as_of,
                "source": t.source,
                "prices": [{"backend": p.backend, "sku": p.sku, "per_hour": p.per_hour, "from": p.source} for p in rows],
            },
            True,
        )
        return
    table([[p.backend, p.sku, f"{p.per_hour:.3f}", p.source] for p in rows], ["BACKEND", "SKU", f"{t.currency}/H", "FROM"])
    click.echo(f"\nsource: {t.source}\nas of:  {t.as_of}" + (f"   region: {t.region}" if t.region else ""))


@prices.command("refresh")
@click.option("--region", default="eastus", show_default=True, help="Azure region (armRegionName).")
@click.option("--currency", default="USD", show_default=True, help="Currency code, e.g. USD, EUR, GBP.")
@click.option("--sku", "skus", multiple=True, help="VM size to price (repeatable; default: every Azure SKU in the table).")
@json_option
@pass_ctx
def refresh(ctx, region, currency, skus, as_json) -> None:
    """Fetch today's pay-as-you-go Linux prices from the Azure Retail Prices API into the workspace."""
    from finetui.core.prices_refresh import refresh as do_refresh

    ctx.workspace_path.mkdir(parents=True, exist_ok=True)
    result = do_refresh(ctx.workspace_path, region=region, currency=currency.upper(), skus=list(skus) or None)
    missing = f"; no price for {', '.join(result['missing'])}" if result["missing"] else ""
    emit(
        result,
        as_json,
        f"wrote {len(result['prices']['azure'])} Azure prices ({currency.upper()}, {region}) to {result['path']}{missing}",
    )
