"""Registering fine-tuned models in the workspace, as the tutorial does after its job.

A job's output is registered by reference (``azureml://jobs/<job>/outputs/trained_model``),
so nothing is uploaded; a local MLflow folder (e.g. a local backend's job output)
is uploaded by the SDK into the workspace's default datastore.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..models import RegisteredModel
from .client import AzureClient, quiet

TAG = "finetui."


def _to_registered(model: Any, job: str | None = None) -> RegisteredModel:
    tags = dict(getattr(model, "tags", None) or {})
    created = getattr(getattr(model, "creation_context", None), "created_at", None)
    return RegisteredModel(
        name=str(model.name),
        version=str(getattr(model, "version", None) or getattr(model, "latest_version", None) or ""),
        path=str(getattr(model, "path", None) or ""),
        job=job or tags.get(f"{TAG}job") or getattr(model, "job_name", None),
        base_model=tags.get(f"{TAG}base_model"),
        created_at=created.timestamp() if created is not None and hasattr(created, "timestamp") else time.time(),
        description=str(getattr(model, "description", None) or ""),
        format="mlflow",
        lineage={"id": str(getattr(model, "id", "") or "")},
    )


class AzureRegistry:
    def __init__(self, client: AzureClient) -> None:
        self.client = client

    def register_job_output(
        self, job: str, name: str, version: str | None = None, description: str = "", base_model: str | None = None
    ) -> RegisteredModel:
        return self._register(
            f"azureml://jobs/{job}/outputs/trained_model",
            name,
            version,
            description,
            {f"{TAG}job": job, **({f"{TAG}base_model": base_model} if base_model else {})},
            job,
        )

    def register_local(
        self, path: str | Path, name: str, version: str | None = None, description: str = "", base_model: str | None = None
    ) -> RegisteredModel:
        folder = Path(path)
        if not (folder / "MLmodel").is_file():
            raise InvalidInput(f"{folder}: not an MLflow model folder (no MLmodel file)")
        return self._register(
            str(folder), name, version, description, {f"{TAG}base_model": base_model} if base_model else {}, None
        )

    def _register(
        self, path: str, name: str, version: str | None, description: str, tags: dict[str, str], job: str | None
    ) -> RegisteredModel:
        with quiet():
            from azure.ai.ml.constants import AssetTypes
            from azure.ai.ml.entities import Model

        model = Model(
            path=path,
            type=AssetTypes.MLFLOW_MODEL,
            name=name.replace("/", "-"),
            version=version or str(int(time.time())),  # the tutorial's timestamp: versions never clash
            description=description,
            tags=tags,
        )
        ws = self.client.ws
        created = self.client.call(
            lambda: ws.models.create_or_update(model), self.client.ws_ctx(f"model {model.name}:{model.version}", "register")
        )
        return _to_registered(created, job)

    def get(self, ref: str) -> RegisteredModel:
        from .catalog import parse_ref

        name, version = parse_ref(ref)
        ws = self.client.ws
        ctx = self.client.ws_ctx(f"registered model {ref}")
        if version:
            return _to_registered(self.client.call(lambda: ws.models.get(name, version=version), ctx))
        return _to_registered(self.client.call(lambda: ws.models.get(name, label="latest"), ctx))

    def list(self, name: str | None = None) -> list[RegisteredModel]:
        ws = self.client.ws
        ctx = self.client.ws_ctx(f"model {name}" if name else "models")
        found = self.client.call(lambda: list(ws.models.list(name=name) if name else ws.models.list()), ctx)
        return [_to_registered(m) for m in found]
