"""How many requests an Azure managed online endpoint served, from Azure Monitor's platform metrics.

The idle timeout of an Azure endpoint (``endpoint create --idle-timeout``)
has no counter of its own to read: the endpoint's ``RequestsPerMinute``
metric is the only record of its traffic. It is read over the metrics REST
API (azure-monitor-query is not a dependency) through AzureClient.rest_get,
which signs in with the management scope and maps errors as every SDK call
does.

Sources, checked with the docs search:
- the metric: "Supported metrics for Microsoft.MachineLearningServices/
  workspaces/onlineEndpoints" (learn.microsoft.com/azure/azure-monitor/
  reference/supported-metrics/microsoft-machinelearningservices-workspaces-
  onlineendpoints-metrics): RequestsPerMinute, unit Count, time grain PT1M,
  dimensions deployment and status code;
- the call: Metrics - List, ``GET {resourceUri}/providers/Microsoft.Insights/
  metrics`` with timespan ``start/end`` (ISO 8601), interval, metricnames and
  aggregation; api-version 2023-10-01; the answer is
  ``value[].timeseries[].data[{timeStamp, total}]``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

from ..errors import OperationFailed
from .client import AzureClient, CallContext
from .workspace import WorkspaceRef

METRIC = "RequestsPerMinute"
API_VERSION = "2023-10-01"


def endpoint_id(workspace: WorkspaceRef, endpoint: str) -> str:
    """The endpoint's ARM resource id, the resource the metrics belong to."""
    return (
        f"/subscriptions/{workspace.subscription_id}/resourceGroups/{workspace.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace.workspace_name}/onlineEndpoints/{endpoint}"
    )


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def metrics_url(workspace: WorkspaceRef, endpoint: str, start: float, end: float) -> str:
    query = urlencode(
        {
            "api-version": API_VERSION,
            "metricnames": METRIC,
            "aggregation": "Total",
            "interval": "PT1M",
            "timespan": f"{_iso(start)}/{_iso(end)}",
        },
        safe="/:",
    )
    return f"https://management.azure.com{endpoint_id(workspace, endpoint)}/providers/Microsoft.Insights/metrics?{query}"


def requests_between(client: AzureClient, endpoint: str, start: float, end: float) -> float:
    """Requests ``endpoint`` served from ``start`` to ``end`` (epoch seconds), per Azure Monitor.

    A minute with no requests has a data point without ``total``: that is zero. No series at all
    means the service does not report the metric for this endpoint: OperationFailed, never zero,
    so that missing data is never taken for an idle endpoint. Other failures leave mapped
    (NotFound for a 404)."""
    ctx = CallContext(f"{METRIC} metrics of endpoint {endpoint}", client.where())
    body = client.rest_get(metrics_url(client.workspace, endpoint, start, end), ctx)
    metrics = [m for m in body.get("value") or [] if (m.get("name") or {}).get("value", METRIC) == METRIC]
    series = [s for m in metrics for s in m.get("timeseries") or []]
    if not series:
        why = next((m.get("errorMessage") for m in metrics if m.get("errorMessage")), None)
        raise OperationFailed(f"Azure Monitor returned no {METRIC} series for endpoint {endpoint}" + (f": {why}" if why else ""))
    return float(sum(point.get("total") or 0 for s in series for point in s.get("data") or []))
