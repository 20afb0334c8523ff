"""Foundation models from the ``azureml`` registry, and the workspace's own models, as CatalogModel records.

The registry's tags carry Python literals (``finetune_compute_allow_list``,
``inference_compute_allow_list``, ``model_specific_defaults``); they are
parsed with ``ast.literal_eval`` and a malformed one becomes a warning on the
record rather than an error, as the tutorial's cells would otherwise crash.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..errors import InvalidInput, NotFound
from ..models import CatalogModel
from ..spec import parse_model_defaults
from .client import AzureClient

LIST_TAGS = ("finetune_compute_allow_list", "inference_compute_allow_list")
_PARAM_TAGS = ("parameter_count", "parameters", "num_parameters", "model_size")
_CONTEXT_TAGS = ("context_length", "max_position_embeddings", "max_context_length", "context_window")
_AZUREML_ID = re.compile(r"^azureml://registries/(?P<reg>[^/]+)/models/(?P<name>[^/]+)(?:/versions/(?P<ver>[^/]+))?$")
_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMbBtT]?)\s*$")
_SCALE = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``NAME``, ``NAME:VERSION`` or an ``azureml://registries/.../models/NAME/versions/V`` id."""
    ref = ref.strip()
    m = _AZUREML_ID.match(ref)
    if m:
        return m.group("name"), m.group("ver")
    name, _, version = ref.partition(":")
    if not name:
        raise InvalidInput(f"model reference {ref!r}: expected NAME or NAME:VERSION")
    return name, version or None


def parse_list_tag(tags: dict[str, Any], key: str) -> tuple[list[str] | None, str | None]:
    """A tag holding a Python list of VM sizes; None when absent, with a warning when malformed."""
    raw = tags.get(key)
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, (list, tuple)):
        return [str(x) for x in raw], None
    try:
        value = ast.literal_eval(str(raw))
    except (ValueError, SyntaxError) as exc:
        return None, f"{key} tag is not a Python literal ({exc.__class__.__name__}); ignored"
    if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
        return None, f"{key} tag is not a list of VM sizes; ignored"
    return list(value), None


def _count(raw: Any) -> int | None:
    if raw is None:
        return None
    m = _COUNT.match(str(raw))
    if not m:
        return None
    return int(float(m.group(1)) * _SCALE[m.group(2).lower()])


def to_catalog_model(model: Any, *, version: str | None = None, source: str = "azureml") -> CatalogModel:
    """Map an SDK Model (or ModelContainer-like) to our record; never raises on bad tags."""
    tags = {str(k): str(v) for k, v in (getattr(model, "tags", None) or {}).items()}
    warnings: list[str] = []
    defaults, warning = parse_model_defaults(tags.get("model_specific_defaults"))
    if warning:
        warnings.append(warning)
    for key in LIST_TAGS:
        _, warning = parse_list_tag(tags, key)
        if warning:
            warnings.append(warning)
    description = getattr(model, "description", None) or ""
    if warnings:
        tags["finetui_warnings"] = "; ".join(warnings)
        description = (description + " " if description else "") + "[warning: " + "; ".join(warnings) + "]"
    ver = str(version or getattr(model, "version", None) or getattr(model, "latest_version", None) or "")
    lineage: dict[str, Any] = {}
    path = getattr(model, "path", None)
    if path:
        lineage["path"] = str(path)
    created = getattr(getattr(model, "creation_context", None), "created_at", None)
    if created is not None:
        lineage["created_at"] = str(created)
    model_id = str(getattr(model, "id", None) or f"azureml://registries/azureml/models/{model.name}")
    if source == "workspace":
        job = tags.get("finetui.job") or getattr(model, "job_name", None)
        if job:
            lineage["job"] = str(job)
        if tags.get("finetui.base_model"):
            lineage["base_model"] = tags["finetui.base_model"]
    if ver and "/versions/" not in model_id:  # a container (from a listing) is named without its version
        model_id += f"/versions/{ver}"
    return CatalogModel(
        name=str(model.name),
        version=ver,
        source=source,
        id=model_id,
        architecture=tags.get("architecture") or tags.get("model_type"),
        parameter_count=next((_count(tags[k]) for k in _PARAM_TAGS if k in tags and _count(tags[k])), None),
        context_length=next((_count(tags[k]) for k in _CONTEXT_TAGS if k in tags and _count(tags[k])), None),
        description=description,
        tags=tags,
        model_specific_defaults=defaults,
        lineage=lineage,
    )


class AzureCatalog:
    def __init__(self, client: AzureClient) -> None:
        self.client = client

    def get_sdk_model(self, ref: str) -> Any:
        name, version = parse_ref(ref)
        ctx = self.client.reg_ctx(f"model {name}" + (f" version {version}" if version else ""))
        registry = self.client.azureml_registry
        if version:
            return self.client.call(lambda: registry.models.get(name, version=version), ctx)
        return self.client.call(lambda: registry.models.get(name, label="latest"), ctx)

    def get(self, ref: str) -> CatalogModel:
        """A foundation model from the registry, else a model registered in the workspace."""
        try:
            return to_catalog_model(self.get_sdk_model(ref))
        except NotFound as in_registry:
            name, version = parse_ref(ref)
            ws = self.client.ws
            ctx = self.client.ws_ctx(f"model {name}" + (f" version {version}" if version else ""))
            try:
                found = self.client.call(
                    lambda: ws.models.get(name, version=version) if version else ws.models.get(name, label="latest"), ctx
                )
            except NotFound:
                raise NotFound(f"{in_registry}; nor in {self.client.workspace.describe()}") from None
            return to_catalog_model(found, source="workspace")

    def versions(self, name: str) -> list[str]:
        """Newest first: the registry's versions, else the workspace's."""
        registry, ws = self.client.azureml_registry, self.client.ws
        found = self.client.call(lambda: list(registry.models.list(name=name)), self.client.reg_ctx(f"model {name}"))
        if not found:
            try:
                found = self.client.call(lambda: list(ws.models.list(name=name)), self.client.ws_ctx(f"model {name}"))
            except NotFound:
                found = []
        return sorted((str(m.version) for m in found), key=_version_key, reverse=True)

    def list(self, query: str | None = None) -> list[CatalogModel]:
        """The registry's foundation models, then the workspace's registered models, each at its newest version."""
        registry, ws = self.client.azureml_registry, self.client.ws
        sources = (
            ("azureml", lambda: list(registry.models.list()), self.client.reg_ctx("models")),
            ("workspace", lambda: list(ws.models.list()), self.client.ws_ctx("models")),
        )
        out = []
        for source, fetch, ctx in sources:
            found = []
            for c in self.client.call(fetch, ctx):
                if query and query.lower() not in f"{c.name} {getattr(c, 'description', '') or ''}".lower():
                    continue
                found.append(to_catalog_model(c, version=getattr(c, "latest_version", None), source=source))
            out += sorted(found, key=lambda m: m.name.lower())
        return out


def _version_key(version: str) -> tuple[int, int | str]:
    return (1, int(version)) if version.isdigit() else (0, version)
