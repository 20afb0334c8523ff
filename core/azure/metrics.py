"""Training metrics from the workspace's MLflow tracking server, read over its REST API (AzureClient.rest_get).

azureml-mlflow is not needed for reading: the tracking URI the workspace
reports (``azureml://<region>.api.azureml.ms/mlflow/v1.0/<workspace id>``) is
an MLflow REST server behind an Azure bearer token. The pipeline logs its
metrics on the fine-tune step's run, so that step is read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..models import MetricPoint
from .client import AzureClient


class AzureMetrics:
    def __init__(self, client: AzureClient) -> None:
        self.client = client
        self._base: str | None = None

    def base_url(self) -> str | None:
        if self._base is None:
            ws = self.client.ws
            found = self.client.call(
                lambda: ws.workspaces.get(self.client.workspace.workspace_name), self.client.ws_ctx("workspace")
            )
            uri = getattr(found, "mlflow_tracking_uri", None) or ""
            self._base = "https://" + uri.split("://", 1)[1].rstrip("/") if "://" in uri else ""
        return self._base or None

    def _get(self, url: str, run_id: str) -> dict[str, Any] | None:
        """The tracking server's answer; None (and a warning) when it refuses: metrics are shown where they can be,
        and a job view, a progress line or an estimate goes on without them."""
        return self.client.rest_get(url, self.client.ws_ctx(f"the metrics of run {run_id}"), refusal_ok=True)

    def for_run(self, run_id: str) -> list[MetricPoint]:
        base = self.base_url()
        if not base:
            return []
        run = self._get(f"{base}/api/2.0/mlflow/runs/get?run_id={quote(run_id)}", run_id)
        keys = sorted({m["key"] for m in ((run or {}).get("run", {}).get("data", {}).get("metrics") or [])})
        points: list[MetricPoint] = []
        for key in keys:
            history = self._get(
                f"{base}/api/2.0/mlflow/metrics/get-history?run_id={quote(run_id)}&metric_key={quote(key)}", run_id
            )
            for m in (history or {}).get("metrics") or []:
                ts = m.get("timestamp")
                points.append(
                    MetricPoint(
                        name=key,
                        value=float(m["value"]),
                        step=int(m.get("step") or 0),
                        timestamp=ts / 1000 if isinstance(ts, (int, float)) else None,
                    )
                )
        epochs = {p.step: p.value for p in points if p.name == "epoch"}
        if epochs:
            points = [MetricPoint(p.name, p.value, p.step, epochs.get(p.step), p.timestamp) for p in points if p.name != "epoch"]
        return sorted(points, key=lambda p: (p.step, p.name))
