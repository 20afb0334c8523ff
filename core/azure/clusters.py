"""Creating an AmlCompute cluster with the tutorial's choices, and the quota it will draw on.

Dedicated nodes come from the VM family's quota; low-priority nodes from the
region's shared low-priority quota (cheaper, and they can be preempted). When
the dedicated quota is short, the cluster is created low priority instead, as
the tutorial advises, and the result says so.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, OperationFailed
from ..models import ClusterOptions, ClusterQuota
from .client import AzureClient, quiet

TIERS = {"dedicated": "dedicated", "low_priority": "low_priority", "low-priority": "low_priority"}
LOW_PRIORITY_USAGE = "lowprioritycores"  # the region's shared low-priority core quota


def quota_for(usages: list[Any], sku: Any, max_nodes: int, tier: str) -> ClusterQuota | None:
    """What ``max_nodes`` of ``sku`` need against what the service reports as used and allowed."""
    if sku is None:
        return None
    cores = int(_field(sku, "v_cp_us", "vCPUs") or 0)
    family = str(_field(sku, "family") or "")
    wanted = family.lower() if tier == "dedicated" else LOW_PRIORITY_USAGE
    for usage in usages:
        raw = getattr(usage, "name", None)
        name = (raw.get("value") if isinstance(raw, dict) else getattr(raw, "value", None)) or ""
        key = str(name).lower().replace("total", "")
        if key == wanted:
            limit, used = int(_field(usage, "limit") or 0), int(_field(usage, "current_value", "currentValue") or 0)
            return ClusterQuota(
                tier=tier,
                usage_name=str(name),
                used_cores=used,
                limit_cores=limit,
                needed_cores=cores * max_nodes,
                cores_per_node=cores,
            )
    return None


def _field(usage: Any, *names: str) -> Any:
    """A Usage's field: the SDK fills its own names from the service's camelCase ones, or keeps only the latter."""
    for name in names:
        value = vars(usage).get(name) if hasattr(usage, "__dict__") else getattr(usage, name, None)
        if value is not None:
            return value
    return None


class AzureClusters:
    def __init__(self, client: AzureClient, compute: Any) -> None:
        self.client = client
        self.compute = compute

    def usages(self) -> list[Any]:
        ws = self.client.ws
        return self.client.call(lambda: list(ws.compute.list_usage()), self.client.ws_ctx("quota usages"))

    def quota(self, size: str, max_nodes: int, tier: str = "dedicated") -> ClusterQuota | None:
        sku = self.compute.sizes().get(size.lower())
        return quota_for(self.usages(), sku, max_nodes, tier)

    def create(self, name: str, options: ClusterOptions) -> tuple[Any, ClusterQuota | None, str | None]:
        """The cluster, the quota it draws on, and a note when it fell back to low priority."""
        with quiet():
            from azure.ai.ml.entities import AmlCompute

        size, min_nodes, max_nodes, idle_seconds = options.size, options.min_nodes, options.max_nodes, options.idle_seconds
        tier = TIERS.get(options.tier.lower().replace(" ", "_"), "")
        if not tier:
            raise InvalidInput("--tier: use dedicated or low_priority")
        if max_nodes < max(1, min_nodes):
            raise InvalidInput(f"compute {name}: max nodes ({max_nodes}) must be at least min nodes ({min_nodes}) and 1")
        if not 0 <= idle_seconds <= 7 * 86400:
            raise InvalidInput(f"idle time {idle_seconds} s: use 0..604800")
        usages = self.usages()
        sku = self.compute.sizes().get(size.lower())
        quota, note = quota_for(usages, sku, max_nodes, tier), None
        if tier == "dedicated" and options.fallback and quota is not None and quota.short:
            note = (
                f"dedicated quota for {quota.usage_name} is short ({quota.free_cores} of {quota.needed_cores} cores free): "
                "creating the cluster low priority instead"
            )
            tier, quota = "low_priority", quota_for(usages, sku, max_nodes, "low_priority")

        def submit(chosen: str) -> None:
            cluster = AmlCompute(
                name=name,
                size=size,
                min_instances=min_nodes,
                max_instances=max_nodes,
                idle_time_before_scale_down=idle_seconds,
                tier=chosen,
            )
            ctx = self.client.ws_ctx(f"compute {name}", "create", sku=size)
            poller = self.client.call(lambda: self.client.ws.compute.begin_create_or_update(cluster), ctx)
            if options.wait:
                self.client.call(poller.result, ctx)

        try:
            submit(tier)
        except OperationFailed as exc:
            if not (tier == "dedicated" and options.fallback and "quota" in str(exc).lower()):
                raise
            note = f"the service refused dedicated nodes ({exc}); creating the cluster low priority instead"
            tier, quota = "low_priority", quota_for(usages, sku, max_nodes, "low_priority")
            submit(tier)
        return self.compute.get(name), quota, note
