"""``finetui prices refresh``: today's Azure prices from the public Retail Prices API.

One OData query per batch of SKUs (``serviceName eq 'Virtual Machines' and
armRegionName eq 'eastus' and priceType eq 'Consumption' and (armSkuName eq
... or ...)``), in the chosen ``currencyCode``, following ``NextPageLink``
until the last page. Of each SKU's meters the Linux, regular (not Spot, not
Low Priority) hourly one is kept: that is what a managed online endpoint and
an AmlCompute node bill. The result is the workspace's ``prices.json``,
written whole or not at all. The API needs no sign-in; its address can be
changed (``FINETUI_PRICES_URL``) so tests run against a local fake.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidInput, NetworkUnavailable, OperationFailed
from .prices import OVERRIDE_NAME, shipped

API_URL = "https://prices.azure.com/api/retail/prices"
MAX_PAGES = 50
SKUS_PER_QUERY = 10
_SKU = re.compile(r"[A-Za-z0-9_]{1,64}")
_REGION = re.compile(r"[a-z0-9]{2,40}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def api_url() -> str:
    return os.environ.get("FINETUI_PRICES_URL") or API_URL


def odata_filter(region: str, skus: list[str]) -> str:
    any_sku = " or ".join(f"armSkuName eq '{s}'" for s in skus)
    return f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' and priceType eq 'Consumption' and ({any_sku})"


def _is_plain_hourly(item: dict[str, Any]) -> bool:
    names = f"{item.get('productName', '')} {item.get('skuName', '')} {item.get('meterName', '')}"
    return (
        item.get("unitOfMeasure") == "1 Hour"
        and item.get("type", "Consumption") == "Consumption"
        and not any(w in names for w in ("Windows", "Spot", "Low Priority"))
    )


def _pages(client: Any, url: str, params: dict[str, str] | None) -> list[dict[str, Any]]:
    """Every item of a query, page by page; the next page must be on the API's own host."""
    import httpx

    origin = urlsplit(url)
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        try:
            resp = client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise NetworkUnavailable(
                f"could not reach the Azure Retail Prices API at {origin.netloc}: {type(exc).__name__}"
            ) from None
        if resp.status_code != 200:
            raise OperationFailed(f"the Azure Retail Prices API answered {resp.status_code} for {origin.netloc}{origin.path}")
        try:
            page = resp.json()
            items += [i for i in page.get("Items") or [] if isinstance(i, dict)]
        except (ValueError, AttributeError):
            raise OperationFailed("the Azure Retail Prices API answered something that is not its JSON") from None
        nxt = page.get("NextPageLink")
        if not nxt:
            return items
        parts = urlsplit(nxt)
        if (parts.scheme, parts.hostname) != (origin.scheme, origin.hostname):
            raise OperationFailed(f"the Azure Retail Prices API sent a next page on another host ({parts.hostname})")
        url, params = nxt, None  # the link carries the query (and $skip) itself
    raise OperationFailed(f"the Azure Retail Prices API sent more than {MAX_PAGES} pages; name fewer --sku")


def refresh(
    workspace: Path, *, region: str = "eastus", currency: str = "USD", skus: list[str] | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """Fetch the prices of ``skus`` (default: the shipped table's Azure SKUs) and write the workspace's prices.json."""
    import httpx

    if not _REGION.fullmatch(region):
        raise InvalidInput(f"--region {region!r}: use an Azure region name such as eastus")
    if not _CURRENCY.fullmatch(currency):
        raise InvalidInput(f"--currency {currency!r}: use a three-letter code such as USD or EUR")
    wanted = list(dict.fromkeys(skus or sorted(shipped()["prices"]["azure"])))
    for sku in wanted:
        if not _SKU.fullmatch(sku):
            raise InvalidInput(f"--sku {sku!r}: use a VM size such as Standard_NC24ads_A100_v4")
    found: dict[str, float] = {}
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for i in range(0, len(wanted), SKUS_PER_QUERY):
            batch = wanted[i : i + SKUS_PER_QUERY]
            params = {"currencyCode": f"'{currency}'", "$filter": odata_filter(region, batch)}
            for item in _pages(client, api_url(), params):
                sku = item.get("armSkuName")
                price = item.get("retailPrice")
                if (
                    isinstance(sku, str)
                    and sku in batch
                    and _is_plain_hourly(item)
                    and isinstance(price, (int, float))
                    and price >= 0
                ):
                    # a SKU has one regular Linux meter; if the API lists it twice, keep the lower price
                    found[sku] = min(float(price), found.get(sku, float("inf")))
                if item.get("currencyCode") not in (None, currency):
                    raise OperationFailed(f"the Azure Retail Prices API answered in {item.get('currencyCode')}, not {currency}")
    if not found:
        raise OperationFailed(f"the Azure Retail Prices API has no Linux pay-as-you-go price for {', '.join(wanted)} in {region}")
    path = Path(workspace) / OVERRIDE_NAME
    prices: dict[str, dict[str, float]] = {}
    try:  # what the user keeps there by hand (other backends, other SKUs) stays, in the same currency
        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("currency") == currency and isinstance(old.get("prices"), dict):
            prices = {b: dict(s) for b, s in old["prices"].items() if isinstance(s, dict)}
    except (OSError, ValueError):
        pass
    prices.setdefault("azure", {}).update(found)
    table = {
        "currency": currency,
        "region": region,
        "as_of": time.strftime("%Y-%m-%d"),
        "source": f"Azure Retail Prices API ({urlsplit(api_url()).netloc}), {region}, Consumption, Linux",
        "prices": {b: dict(sorted(s.items())) for b, s in sorted(prices.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return {**table, "path": str(path), "missing": [s for s in wanted if s not in found]}
