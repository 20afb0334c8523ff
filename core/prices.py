"""Prices per hour, per backend and SKU: the shipped table, the workspace's override, and its refresh.

``core/prices_table.json`` ships with finetui (its ``source`` and ``as_of``
say where and when the figures come from). A workspace may hold
``prices.json`` of the same shape: ``finetui prices refresh`` writes it from
the public Azure Retail Prices API, and a user may edit it; its entries win.
Money is never guessed: an SKU with no price is shown as unknown.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InvalidInput

OVERRIDE_NAME = "prices.json"
OVERRIDE_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Price:
    backend: str
    sku: str
    per_hour: float
    currency: str
    source: str  # "shipped" or the override file
    as_of: str


@dataclass
class PriceTable:
    currency: str
    region: str
    as_of: str
    source: str
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)  # (backend, sku) -> "shipped" or a path
    throughput: dict[str, Any] = field(default_factory=dict)

    def get(self, backend: str, sku: str | None) -> Price | None:
        if not sku:
            return None
        table = self.prices.get(backend, {})
        key = next((k for k in table if k.lower() == sku.lower()), None)  # Azure spells sizes in either case
        if key is None:
            return None
        return Price(backend, key, table[key], self.currency, self.origin.get((backend, key), "shipped"), self.as_of)

    def rows(self) -> list[Price]:
        return [p for b in sorted(self.prices) for s in sorted(self.prices[b]) if (p := self.get(b, s))]


def _check(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("prices"), dict):
        raise InvalidInput(f'{where}: expected an object with "prices": {{backend: {{sku: per_hour}}}}')
    for backend, skus in data["prices"].items():
        if not isinstance(skus, dict):
            raise InvalidInput(f"{where}: prices.{backend}: expected {{sku: per_hour}}")
        for sku, value in skus.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvalidInput(f"{where}: prices.{backend}.{sku}: expected a price per hour >= 0, got {value!r}")
    return data


def shipped() -> dict[str, Any]:
    text = resources.files("finetui.core").joinpath("prices_table.json").read_text(encoding="utf-8")
    return _check(json.loads(text), "prices_table.json")


def load_prices(workspace: Path | None = None) -> PriceTable:
    """The shipped table with the workspace's ``prices.json`` on top (a bad override is bad input, named)."""
    base = shipped()
    table = PriceTable(
        base["currency"],
        base.get("region", ""),
        base["as_of"],
        base["source"],
        {b: dict(s) for b, s in base["prices"].items()},
        {},
        base.get("throughput_tokens_per_s", {}),
    )
    path = Path(workspace) / OVERRIDE_NAME if workspace else None
    if path is not None and path.exists():
        from .files import read_user_text

        where = str(path)
        try:
            data = _check(json.loads(read_user_text(path, "price override", OVERRIDE_MAX_BYTES)), where)
        except ValueError as exc:
            raise InvalidInput(f"{where}: not valid JSON ({exc})") from None
        if data.get("currency", table.currency) != table.currency:
            table = PriceTable(
                data["currency"],
                data.get("region", table.region),
                data.get("as_of", ""),
                data.get("source", where),
                {},
                {},
                table.throughput,
            )
        else:
            table.as_of = data.get("as_of", table.as_of)
            table.source = data.get("source", where)
        for backend, skus in data["prices"].items():
            for sku, value in skus.items():
                table.prices.setdefault(backend, {})[sku] = float(value)
                table.origin[(backend, sku)] = where
    return table
