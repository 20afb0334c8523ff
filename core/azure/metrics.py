"""Training metrics from the workspace's MLflow tracking server, read over its REST API.

azureml-mlflow is not needed for reading: the tracking URI the workspace
reports (``azureml://<region>.api.azureml.ms/mlflow/v1.0/<workspace id>``) is
an MLflow REST server behind an Azure bearer token. The pipeline logs its
metrics on the fine-tune step's run, so that step is read.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from ..models import MetricPoint
from .auth import MANAGEMENT_SCOPE
from .client import OUTPUT_LOGGER, AzureClient

log = logging.getLogger(OUTPUT_LOGGER)


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

    def _get(self, url: str) -> dict[str, Any] | None:
        pipeline = self.client.ws.jobs._requests_pipeline
        token = self.client.call(
            lambda: self.client.credential.get_token(MANAGEMENT_SCOPE).token, self.client.ws_ctx("a token for metrics", "get")
        )
        response = self.client.call(
            lambda: pipeline.get(url, headers={"Authorization": f"Bearer {token}"}), self.client.ws_ctx("metrics")
        )
        if response.status_code >= 400:
            log.warning("metrics unavailable (%s from the tracking server)", response.status_code)
            return None
        data: dict[str, Any] = json.loads(response.text() or "{}")
        return data

    def for_run(self, run_id: str) -> list[MetricPoint]:
        base = self.base_url()
        if not base:
            return []
        run = self._get(f"{base}/api/2.0/mlflow/runs/get?run_id={quote(run_id)}")
        keys = sorted({m["key"] for m in ((run or {}).get("run", {}).get("data", {}).get("metrics") or [])})
        points: list[MetricPoint] = []
        for key in keys:
            history = self._get(f"{base}/api/2.0/mlflow/metrics/get-history?run_id={quote(run_id)}&metric_key={quote(key)}")
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
