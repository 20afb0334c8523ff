"""Prices: the shipped table, the workspace override, and `prices refresh` against a fake Retail Prices API.

The fake is a real HTTP server on 127.0.0.1 that answers as
https://prices.azure.com/api/retail/prices does: an OData $filter, a
currencyCode, items in pages of ``page_size`` linked by NextPageLink.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from cli_helpers import finetui, finetui_json

RATES = {"USD": 1.0, "EUR": 0.5}


def _item(sku: str, price: float, product: str, sku_name: str, region: str = "westeurope") -> dict:
    return {
        "currencyCode": "USD",
        "retailPrice": price,
        "unitPrice": price,
        "armRegionName": region,
        "armSkuName": sku,
        "productName": product,
        "skuName": sku_name,
        "meterName": sku_name,
        "serviceName": "Virtual Machines",
        "unitOfMeasure": "1 Hour",
        "type": "Consumption",
    }


CATALOG = [
    _item("Standard_NC24ads_A100_v4", 4.00, "NC A100 v4 Series Windows", "NC24ads A100 v4"),
    _item("Standard_NC24ads_A100_v4", 1.00, "NC A100 v4 Series", "NC24ads A100 v4 Spot"),
    _item("Standard_NC24ads_A100_v4", 1.50, "NC A100 v4 Series", "NC24ads A100 v4 Low Priority"),
    _item("Standard_NC24ads_A100_v4", 3.00, "NC A100 v4 Series", "NC24ads A100 v4"),
    _item("Standard_NC6s_v3", 2.00, "NCSv3 Series", "NC6s v3"),
    _item("Standard_NC6s_v3", 9.00, "NCSv3 Series", "NC6s v3", region="eastus"),
    _item("Standard_DS3_v2", 0.25, "DSv2 Series", "DS3 v2"),
]


class FakePrices:
    def __init__(self, page_size: int = 2, next_host: str | None = None) -> None:
        self.page_size, self.next_host = page_size, next_host
        self.queries: list[dict[str, str]] = []
        self.fail_with: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                fake.queries.append(q)
                if parts.path != "/api/retail/prices" or fake.fail_with:
                    self.send_response(fake.fail_with or 404)
                    self.end_headers()
                    return
                currency = q.get("currencyCode", "'USD'").strip("'")
                region = re.search(r"armRegionName eq '([a-z0-9]+)'", q["$filter"]).group(1)
                skus = re.findall(r"armSkuName eq '([A-Za-z0-9_]+)'", q["$filter"])
                assert "serviceName eq 'Virtual Machines'" in q["$filter"] and "priceType eq 'Consumption'" in q["$filter"]
                rows = [
                    dict(i, currencyCode=currency, retailPrice=i["retailPrice"] * RATES[currency])
                    for i in CATALOG
                    if i["armRegionName"] == region and i["armSkuName"] in skus
                ]
                skip = int(q.get("$skip", 0))
                page = rows[skip : skip + fake.page_size]
                nxt = None
                if skip + fake.page_size < len(rows):
                    host = fake.next_host or f"127.0.0.1:{fake.port}"
                    nxt = (
                        (
                            f"http://{host}/api/retail/prices?currencyCode={q.get('currencyCode', '')}"
                            f"&$filter={q['$filter']}&$skip={skip + fake.page_size}"
                        )
                        .replace(" ", "%20")
                        .replace("'", "%27")
                    )
                body = json.dumps(
                    {
                        "BillingCurrency": currency,
                        "CustomerEntityId": "Default",
                        "CustomerEntityType": "Retail",
                        "Items": page,
                        "NextPageLink": nxt,
                        "Count": len(page),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/retail/prices"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    fake = FakePrices()
    yield fake
    fake.close()


SKUS = ("--sku", "Standard_NC24ads_A100_v4", "--sku", "Standard_NC6s_v3", "--sku", "Standard_DS3_v2")


def test_shipped_table_has_source_and_date(tmp_path):
    table = finetui_json(tmp_path / "ws", "prices")
    assert table["source"].startswith("Azure Retail Prices API") and re.fullmatch(r"\d{4}-\d\d-\d\d", table["as_of"])
    by_sku = {p["sku"]: p for p in table["prices"]}
    assert by_sku["Standard_NC24ads_A100_v4"]["per_hour"] > 0 and by_sku["Standard_NC24ads_A100_v4"]["from"] == "shipped"
    assert by_sku["cpu"]["per_hour"] == 0


def test_refresh_follows_pages_and_keeps_the_linux_pay_as_you_go_meter(tmp_path, api):
    ws = tmp_path / "ws"
    out = finetui_json(
        ws, "prices", "refresh", "--region", "westeurope", "--currency", "eur", *SKUS, env={"FINETUI_PRICES_URL": api.url}
    )
    assert out["currency"] == "EUR" and out["as_of"] == time.strftime("%Y-%m-%d") and out["missing"] == []
    # the Linux regular meter, in the currency asked for: not Windows (2.00), Spot (0.50) or Low Priority (0.75)
    assert out["prices"]["azure"] == {"Standard_NC24ads_A100_v4": 1.5, "Standard_NC6s_v3": 1.0, "Standard_DS3_v2": 0.125}
    # six meters match in westeurope: three pages of two, the next two reached through NextPageLink
    assert [q.get("$skip") for q in api.queries] == [None, "2", "4"]
    first = api.queries[0]
    assert first["currencyCode"] == "'EUR'"
    assert "armRegionName eq 'westeurope'" in first["$filter"]
    assert all(f"armSkuName eq '{s}'" in first["$filter"] for s in SKUS[1::2])
    shown = finetui_json(ws, "prices")
    assert shown["currency"] == "EUR"
    by_sku = {p["sku"]: p for p in shown["prices"]}
    assert by_sku["Standard_NC6s_v3"]["per_hour"] == 1.0 and by_sku["Standard_NC6s_v3"]["from"].endswith("prices.json")


def test_override_wins_over_the_shipped_table_in_the_same_currency(tmp_path, api):
    ws = tmp_path / "ws"
    finetui(ws, "prices", "refresh", "--region", "westeurope", "--sku", "Standard_NC6s_v3", env={"FINETUI_PRICES_URL": api.url})
    by_sku = {p["sku"]: p for p in finetui_json(ws, "prices")["prices"]}
    assert by_sku["Standard_NC6s_v3"]["per_hour"] == 2.0  # refreshed
    assert by_sku["Standard_NC24ads_A100_v4"]["from"] == "shipped"  # the rest stays


def test_refresh_failures_are_one_line_and_leave_the_table_alone(tmp_path, api):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "prices.json").write_text('{"currency": "USD", "prices": {"azure": {"Standard_NC6s_v3": 1.25}}}')
    before = (ws / "prices.json").read_text()
    api.fail_with = 503
    down = finetui(ws, "prices", "refresh", *SKUS, env={"FINETUI_PRICES_URL": api.url}, check=False)
    assert down.returncode == 1 and "answered 503" in down.stderr and len(down.stderr.strip().splitlines()) == 1
    api.fail_with = None
    api.next_host = "evil.example:80"  # a next page elsewhere is not followed
    moved = finetui(ws, "prices", "refresh", "--region", "westeurope", *SKUS, env={"FINETUI_PRICES_URL": api.url}, check=False)
    assert moved.returncode == 1 and "another host" in moved.stderr
    gone = finetui(
        ws, "prices", "refresh", *SKUS, env={"FINETUI_PRICES_URL": "http://127.0.0.1:9/api/retail/prices"}, check=False
    )
    assert gone.returncode == 1 and "could not reach" in gone.stderr
    bad = finetui(ws, "prices", "refresh", "--sku", "x' or 1 eq 1", env={"FINETUI_PRICES_URL": api.url}, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --sku ")
    assert (ws / "prices.json").read_text() == before


def test_a_bad_override_is_named(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "prices.json").write_text('{"prices": {"azure": {"Standard_NC6s_v3": -1}}}')
    proc = finetui(ws, "prices", check=False)
    assert proc.returncode == 2 and "prices.json: prices.azure.Standard_NC6s_v3" in proc.stderr
