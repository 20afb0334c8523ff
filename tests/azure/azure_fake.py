"""A stateful fake of the Azure ML services the tutorial touches, shaped like the recordings.

It answers the real SDK's requests (ARM, the registry's MFE, run history, blob
storage, the scoring host) from in-memory state, so a whole fine-tune ->
register -> deploy -> invoke -> delete flow runs offline. Long operations
finish at once with an integer Retry-After; jobs advance one status per GET.
Faults (a status code for a method+path pattern) can be queued to test errors.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from azure_replay import FakeRequest

SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg1"
WS = "ws1"
LOC = "eastus"
REGISTRY_RG = "azureml-rg"
WS_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
MGMT = "https://management.azure.com"
API = f"https://{LOC}.api.azureml.ms"
BLOB = "https://fakestore.blob.core.windows.net"
SCORING_HOST = f"{LOC}.inference.ml.azure.com"
SYSTEM = {
    "createdAt": "2026-01-01T00:00:00+00:00",
    "createdBy": "ana",
    "createdByType": "User",
    "lastModifiedAt": "2026-01-01T00:00:00+00:00",
    "lastModifiedBy": "ana",
    "lastModifiedByType": "User",
}

PHI3_TAGS = {
    "finetune_compute_allow_list": "['Standard_NC6s_v3', 'Standard_NC12s_v3', 'Standard_NC24s_v3', 'Standard_NC24rs_v3', "
    "'Standard_NC24ads_A100_v4', 'Standard_NC48ads_A100_v4', 'Standard_NC96ads_A100_v4', "
    "'Standard_ND96asr_v4', 'Standard_ND40rs_v2']",
    "inference_compute_allow_list": "['Standard_NC6s_v3', 'Standard_NC24ads_A100_v4']",
    "model_specific_defaults": "{'apply_deepspeed': 'true', 'apply_lora': 'true', 'deepspeed_stage': 2, 'learning_rate': 2e-05}",
    "task": "chat-completion",
}

# The tutorial notebook's finetune_parameters for Phi-3 after its model_specific_defaults, as the
# pipeline input values a submit sends: what finetui must send too, and nothing it made up.
TUTORIAL_PARAMETERS = {
    "number_of_gpu_to_use_finetuning": "1",
    "num_train_epochs": "3",
    "per_device_train_batch_size": "1",
    "per_device_eval_batch_size": "1",
    "learning_rate": "2e-05",
    "lr_scheduler_type": "cosine",
    "apply_lora": "true",
    "apply_deepspeed": "true",
    "deepspeed_stage": "2",
}

PIPELINE_INPUTS: dict[str, Any] = {
    "mlflow_model_path": {"type": "mlflow_model", "optional": True},
    "compute_model_import": {"type": "string"},
    "compute_preprocess": {"type": "string"},
    "compute_finetune": {"type": "string"},
    "compute_model_evaluation": {"type": "string"},
    "train_file_path": {"type": "uri_file", "optional": True},
    "test_file_path": {"type": "uri_file", "optional": True},
    "number_of_gpu_to_use_finetuning": {"type": "integer", "default": 1},
    "num_nodes_finetune": {"type": "integer", "default": 1},
    "num_train_epochs": {"type": "number", "default": 1},
    "max_steps": {"type": "integer", "default": -1},
    "per_device_train_batch_size": {"type": "integer", "default": 1},
    "per_device_eval_batch_size": {"type": "integer", "default": 1},
    "learning_rate": {"type": "number", "default": 2e-5},
    "lr_scheduler_type": {"type": "string", "default": "linear"},
    "warmup_ratio": {"type": "number", "default": 0},
    "weight_decay": {"type": "number", "default": 0},
    "gradient_accumulation_steps": {"type": "integer", "default": 1},
    "max_seq_length": {"type": "integer", "default": -1},
    "save_total_limit": {"type": "integer", "default": -1},
    "apply_lora": {"type": "string", "default": "false"},
    "apply_deepspeed": {"type": "string", "default": "false"},
    "deepspeed_stage": {"type": "string", "default": "2"},
    "lora_r": {"type": "integer", "default": 8},
    "lora_alpha": {"type": "integer", "default": 128},
    "lora_dropout": {"type": "number", "default": 0},
    # inputs FineTuneSpec does not model, as the registry's chat_completion_pipeline declares them
    "precision": {"type": "string", "enum": ["32", "16"], "default": "32", "optional": True},
    "max_grad_norm": {"type": "number", "default": 1.0, "optional": True},
    "optim": {"type": "string", "enum": ["adamw_hf", "adamw_torch", "adafactor"], "default": "adamw_hf", "optional": True},
    "warmup_steps": {"type": "integer", "default": 0, "optional": True},
    "early_stopping_patience": {"type": "integer", "min": 1, "default": 1, "optional": True},
    "apply_early_stopping": {"type": "string", "enum": ["true", "false"], "default": "false", "optional": True},
    "pad_to_max_length": {"type": "string", "enum": ["true", "false"], "default": "false", "optional": True},
    "batch_size": {"type": "integer", "min": 1, "default": 1000, "optional": True},
}

STEPS = ("model_import", "preprocess", "finetune", "model_evaluation")


def _version_order(version: str) -> tuple[int, int | str]:
    return (1, int(version)) if version.isdigit() else (0, version)


def _ok(body: Any, status: int = 200, headers: dict | None = None):
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, json.dumps(body).encode()


def _err(status: int, code: str, message: str, headers: dict | None = None):
    return _ok(
        {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}},
        status,
        {"x-ms-response-type": "error", **(headers or {})},
    )


def _listed(items: Any):
    return _ok({"value": list(items)})


def _found(store: dict, key: Any, missing: str):
    """``store[key]``, or the service's 404 with the message ``missing``."""
    return _ok(store[key]) if key in store else _err(404, "UserError", missing)


@dataclass
class Fault:
    method: str
    pattern: str
    status: int
    code: str
    message: str
    times: int = 1
    headers: dict = field(default_factory=dict)
    reply: tuple | None = None  # a whole recorded answer, served as is


Handler = TypeVar("Handler", bound=Callable[..., Any])

# the service's path prefixes: a workspace, a registry (through the management front end), a subscription's
# resource provider, and a workspace's run history
_WS = r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
_REG = r"/mferp/managementfrontend/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/registries/[^/]+"
_SUB = r"/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices"
_HIST = r"/history/v1\.0" + _WS


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Marks a FakeAzure method as the answer to ``method`` on a path that ``pattern`` matches whole;
    the pattern's groups are the method's arguments after the request."""

    def mark(handler: Handler) -> Handler:
        handler.route = (method, pattern)  # type: ignore[attr-defined]
        return handler

    return mark


class FakeAzure:
    def __init__(self) -> None:
        self.requests: list[FakeRequest] = []
        self.faults: list[Fault] = []
        self.registry_models: dict[str, dict[str, dict]] = {}
        self.computes: dict[str, dict] = {}
        self.vm_sizes: list[dict] = []
        self.usages: list[dict] = []
        self.compute_bodies: dict[str, dict] = {}
        self.refuse_dedicated = False  # answer a dedicated-tier cluster PUT with QuotaExceeded
        self.jobs: dict[str, dict] = {}
        self.job_bodies: dict[str, dict] = {}
        self.job_gets: dict[str, int] = {}
        self.job_outcome: dict[str, str] = {}
        self.job_script: dict[str, list[str]] = {}  # statuses a job takes, one per GET of it
        self.runs: dict[str, dict] = {}
        self.blobs: dict[str, bytes] = {}
        self.models: dict[tuple[str, str], dict] = {}
        self.endpoints: dict[str, dict] = {}
        self.deployments: dict[tuple[str, str], dict] = {}
        self.operations: dict[str, dict] = {}
        self.scored: list[dict] = []
        self.score_reply: Any = [{"0": "Hello from the fine-tuned model."}]
        self.unhandled: list[str] = []
        self.metrics: dict[str, list[dict]] = {}  # run id -> MLflow metric records
        self.endpoint_requests: dict[str, int] = {}  # endpoint -> requests Azure Monitor reports in any window
        self.drop_log_reads = 0  # this many log reads lose their connection
        self.honour_range = True
        self.blob_page_size = 5000  # List Blobs answers at most this many names a page
        self._op = 0

    # -- setup helpers -------------------------------------------------------------------
    def add_registry_model(self, name: str, version: str, tags: dict[str, str] | None = None) -> None:
        self.registry_models.setdefault(name, {})[version] = {
            "id": f"azureml://registries/azureml/models/{name}/versions/{version}",
            "name": version,
            "type": "models",
            "properties": {
                "description": f"{name} foundation model",
                "tags": dict(tags or {}),
                "properties": {},
                "isArchived": False,
                "isAnonymous": False,
                "flavors": {"python_function": {"data": {}}},
                "modelType": "mlflow_model",
                "modelUri": f"azureml://registries/azureml/models/{name}/versions/{version}",
            },
            "systemData": SYSTEM,
        }

    def add_workspace_model(self, name: str, version: str, tags: dict[str, str] | None = None, path: str | None = None) -> None:
        """A model registered in the workspace, as the service stores a job output's registration."""
        self.models[(name, version)] = {
            "id": f"{WS_ID}/models/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
            "systemData": SYSTEM,
            "properties": {
                "modelType": "mlflow_model",
                "tags": dict(tags or {}),
                "description": f"{name} v{version}",
                "modelUri": path or f"azureml://jobs/job-{version}/outputs/trained_model",
                "flavors": {"python_function": {"data": {}}},
                "provisioningState": "Succeeded",
            },
        }

    def add_compute(self, name: str, vm_size: str, state: str = "Succeeded", max_nodes: int = 2) -> None:
        self.computes[name] = {
            "id": f"{WS_ID}/computes/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "location": LOC,
            "tags": {},
            "identity": None,
            "sku": None,
            "systemData": SYSTEM,
            "properties": {
                "computeType": "AmlCompute",
                "computeLocation": LOC,
                "provisioningState": state,
                "description": None,
                "disableLocalAuth": True,
                "isAttachedCompute": False,
                "properties": {
                    "vmSize": vm_size.upper(),
                    "vmPriority": "Dedicated",
                    "osType": "Linux",
                    "scaleSettings": {"maxNodeCount": max_nodes, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT2M"},
                    "currentNodeCount": 0,
                    "targetNodeCount": 0,
                    "allocationState": "Steady",
                    "nodeStateCounts": {
                        "idleNodeCount": 0,
                        "runningNodeCount": 0,
                        "preparingNodeCount": 0,
                        "unusableNodeCount": 0,
                        "leavingNodeCount": 0,
                        "preemptedNodeCount": 0,
                    },
                    "enableNodePublicIp": True,
                },
            },
        }

    def add_vm_size(
        self, name: str, gpus: int, memory_gb: float = 220.0, vcpus: int = 24, family: str = "standardNCADSA100v4Family"
    ) -> None:
        self.vm_sizes.append(
            {
                "name": name,
                "family": family,
                "vCPUs": vcpus,
                "gpus": gpus,
                "osVhdSizeMB": 1047552,
                "maxResourceVolumeMB": 65536,
                "memoryGB": memory_gb,
                "lowPriorityCapable": True,
                "premiumIO": True,
                "supportedComputeTypes": ["AmlCompute"],
            }
        )

    def fail(self, method: str, pattern: str, status: int, code: str, message: str, times: int = 1, **headers: str) -> None:
        self.faults.append(Fault(method, pattern, status, code, message, times, headers))

    def serve(self, method: str, pattern: str, reply: tuple, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with ``reply`` (e.g. a recorded error entry)."""
        self.faults.append(Fault(method, pattern, reply[0], "", "", times, {}, reply))

    def step(
        self, job: str, step: str, status: str, start: str | None = None, end: str | None = None, created: str | None = None
    ) -> None:
        """Move one step along: its status and (ISO) start and end times, as run history reports them."""
        run = self.runs[f"{job}-{step}"]
        run["status"] = status
        for key, value in (("start", start), ("end", end), ("createdUtc", created)):
            if value:
                run[key] = value

    def set_step_log(self, job: str, step: str, text: str, status: str | None = None) -> None:
        run = self.runs[f"{job}-{step}"]
        self.blobs[f"/logs/{run['runId']}/user_logs/std_log.txt"] = text.encode()
        if status:
            run["status"] = status

    # -- dispatch ----------------------------------------------------------------------------
    def __call__(self, req: FakeRequest):
        self.requests.append(req)
        for fault in self.faults:
            if fault.times and fault.method == req.method and re.search(fault.pattern, req.path):
                fault.times -= 1
                if fault.reply is not None:
                    return fault.reply
                return _err(fault.status, fault.code, fault.message, fault.headers)
        for name, (method, pattern) in ROUTES.items():
            if method == req.method and (m := re.fullmatch(pattern, req.path)):
                return getattr(self, name)(req, *m.groups())
        self.unhandled.append(f"{req.method} {req.url}")
        return _err(404, "NotFound", f"fake has no route for {req.method} {req.path}")

    # -- registry ------------------------------------------------------------------------------
    @route("GET", r"/registrymanagement/v1\.0/registries/([^/]+)/discovery")
    def registry_discovery(self, req, name):
        return _ok(
            {
                "registryId": "00000000-0000-0000-0000-0000000000aa",
                "registryName": name,
                "tenantId": SUB,
                "primaryRegion": LOC,
                "regions": [LOC],
                "subscriptionId": SUB,
                "resourceGroup": REGISTRY_RG,
                "workspaceName": None,
                "primaryRegionResourceProviderUri": f"https://cert-{LOC}.experiments.azureml.net/",
                "registryFqdns": {LOC: {"uri": API}},
                "intellectualPropertyPublisher": None,
            }
        )

    @route("GET", _REG + r"/models")
    def registry_model_list(self, req):
        out = []
        for name, versions in sorted(self.registry_models.items()):
            latest = max(versions, key=lambda v: int(v) if v.isdigit() else 0)
            out.append(
                {
                    "id": f"azureml://registries/azureml/models/{name}",
                    "name": name,
                    "type": "models",
                    "properties": {
                        "description": versions[latest]["properties"]["description"],
                        "tags": versions[latest]["properties"]["tags"],
                        "properties": {},
                        "isArchived": False,
                        "latestVersion": latest,
                    },
                    "systemData": SYSTEM,
                }
            )
        return _ok({"value": out})

    @route("GET", _REG + r"/models/([^/]+)/versions")
    def registry_model_versions(self, req, name):
        versions = self.registry_models.get(name, {})
        ordered = sorted(versions.values(), key=lambda b: int(b["name"]) if b["name"].isdigit() else 0, reverse=True)
        top = int(req.query.get("$top", len(ordered) or 1))
        return _ok({"value": ordered[:top]})  # an unknown model is an empty list, not a 404 (recording 01)

    @route("GET", _REG + r"/models/([^/]+)/versions/([^/]+)")
    def registry_model_get(self, req, name, version):
        body = self.registry_models.get(name, {}).get(version)
        if body is None:
            return _err(404, "UserError", f"Model container/version {name}:{version} not found in registry azureml")
        return _ok(body)

    def _component(self) -> dict:
        return {
            "id": "azureml://registries/azureml/components/chat_completion_pipeline/versions/0.0.65",
            "name": "0.0.65",
            "type": "components",
            "properties": {
                "description": "Pipeline component for chat completion",
                "tags": {},
                "properties": {},
                "isArchived": False,
                "isAnonymous": False,
                "componentSpec": {
                    "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json",
                    "name": "chat_completion_pipeline",
                    "version": "0.0.65",
                    "display_name": "Chat Completion Pipeline",
                    "type": "pipeline",
                    "is_deterministic": True,
                    "inputs": copy.deepcopy(PIPELINE_INPUTS),
                    "outputs": {"mlflow_model_folder": {"type": "mlflow_model"}},
                    "jobs": {},
                },
            },
            "systemData": SYSTEM,
        }

    @route("GET", _REG + r"/components/([^/]+)/versions")
    def component_versions(self, req, name):
        if name != "chat_completion_pipeline":
            return _ok({"value": []})
        return _ok({"value": [self._component()]})

    @route("GET", _REG + r"/components/([^/]+)/versions/([^/]+)")
    def component_get(self, req, name, version):
        if name != "chat_completion_pipeline":
            return _err(404, "UserError", f"component {name} not found")
        return _ok(self._component())

    # -- workspace, compute, storage -------------------------------------------------------------
    @route("GET", _WS)
    def workspace(self, req):
        return _ok(
            {
                "id": WS_ID,
                "name": WS,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": LOC,
                "tags": {},
                "properties": {
                    "friendlyName": WS,
                    "provisioningState": "Succeeded",
                    "discoveryUrl": f"{API}/discovery",
                    "workspaceId": SUB,
                    "storageAccount": "fakestore",
                    "mlFlowTrackingUri": f"azureml://{LOC}.api.azureml.ms/mlflow/v1.0{WS_ID}",
                },
                "identity": {"type": "SystemAssigned"},
                "kind": "Default",
                "sku": {"name": "Basic", "tier": "Basic"},
                "systemData": SYSTEM,
            }
        )

    @route("GET", r"/discovery")
    def discovery(self, req):
        return _ok({"api": API, "history": API, "experimentation": API, "catalog": API, "studio": "https://ml.azure.com"})

    @route("GET", _WS + r"/computes")
    def compute_list(self, req):
        return _listed(self.computes.values())

    @route("GET", _WS + r"/computes/([^/]+)")
    def compute_get(self, req, name):
        return _found(self.computes, name, f"Compute {name} is not found in workspace {WS}")

    @route("PUT", _WS + r"/computes/([^/]+)")
    def compute_put(self, req, name):
        props = req.json()["properties"]
        size = props["properties"]["vmSize"]
        priority = props["properties"].get("vmPriority") or "Dedicated"
        if priority == "Dedicated" and self.refuse_dedicated:
            return _err(
                400,
                "QuotaExceeded",
                f"Not enough quota available for {size} (dedicated cores) in "
                f"SubscriptionId {SUB}. Current usage/limit: 0/0. Additional requested: 24.",
            )
        self.compute_bodies[name] = req.json()
        scale = props["properties"].get("scaleSettings") or {}
        self.add_compute(name, size, max_nodes=int(scale.get("maxNodeCount", 1)))
        stored = self.computes[name]["properties"]["properties"]
        stored.update(vmSize=size, vmPriority=priority)
        stored["scaleSettings"].update({k: v for k, v in scale.items() if k in ("minNodeCount", "nodeIdleTimeBeforeScaleDown")})
        return _ok(self.computes[name], 201, self._lro_headers(self._new_op("Succeeded")))

    @route("GET", _SUB + r"/locations/([^/]+)/usages")
    def usage_list(self, req, location):
        return _listed(self.usages)

    def add_usage(self, name: str, used: int, limit: int) -> None:
        """A quota as ``usages`` reports it: a VM family's cores, or the region's low-priority cores."""
        self.usages.append(
            {
                "id": f"/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices/locations/{LOC}/usages/{name}",
                "amlWorkspaceLocation": LOC,
                "type": "Microsoft.MachineLearningServices/totalCores/usages",
                "unit": "Count",
                "currentValue": used,
                "limit": limit,
                "name": {"value": name, "localizedValue": f"{name} cores"},
            }
        )

    @route("GET", _SUB + r"/locations/([^/]+)/vmSizes")
    def vm_size_list(self, req, location):
        return _listed(self.vm_sizes)

    def _datastore(self) -> dict:
        return {
            "id": f"{WS_ID}/datastores/workspaceblobstore",
            "name": "workspaceblobstore",
            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "systemData": SYSTEM,
            "properties": {
                "datastoreType": "AzureBlob",
                "accountName": "fakestore",
                "containerName": "workspace-container",
                "endpoint": "core.windows.net",
                "protocol": "https",
                "isDefault": True,
                "credentials": {"credentialsType": "AccountKey"},
                "description": None,
                "tags": {},
            },
        }

    @route("GET", _WS + r"/datastores")
    def datastore_list(self, req):
        return _ok({"value": [self._datastore()]})

    @route("GET", _WS + r"/datastores/([^/]+)")
    def datastore_get(self, req, name):
        return _ok(self._datastore())

    @route("POST", _WS + r"/datastores/([^/]+)/listSecrets")
    def datastore_secrets(self, req, name):
        return _ok({"secretsType": "AccountKey", "key": "ZmFrZS1hY2NvdW50LWtleQ=="})

    @route("HEAD", r"/(workspace-container|logs)/(.+)")
    def blob_head(self, req, container, path):
        key = f"/{container}/{path}"
        if key not in self.blobs:
            return 404, {"x-ms-error-code": "BlobNotFound"}, b""
        return 200, {"Content-Length": str(len(self.blobs[key])), "x-ms-blob-type": "BlockBlob"}, b""

    @route("PUT", r"/(workspace-container|logs)/(.+)")
    def blob_put(self, req, container, path):
        key = f"/{container}/{path}"
        if req.query.get("comp") in ("metadata", "properties"):
            return 200, {"ETag": '"0x1"', "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT"}, b""
        self.blobs[key] = req.body
        return 201, {"ETag": '"0x1"', "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT", "Content-MD5": ""}, b""

    @route("GET", r"/(workspace-container|logs)/(.+)")
    def blob_get(self, req, container, path):
        key = f"/{container}/{path}"
        if key not in self.blobs:
            return (
                404,
                {"x-ms-error-code": "BlobNotFound", "Content-Type": "application/xml"},
                b"<Error><Code>BlobNotFound</Code></Error>",
            )
        data = self.blobs[key]
        if container == "logs" and self.drop_log_reads:
            self.drop_log_reads -= 1
            import requests

            raise requests.ConnectionError("connection reset by peer")
        rng = req.headers.get("Range") or req.headers.get("x-ms-range")
        if rng and self.honour_range:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                return 416, {"Content-Type": "application/xml"}, b""
            return (
                206,
                {"Content-Type": "text/plain", "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
                data[start:],
            )
        return 200, {"Content-Type": "text/plain"}, data

    @route("GET", r"/(workspace-container)")
    def blob_list(self, req, container):
        """List Blobs (flat): the names under ``prefix``, a page of ``maxresults`` at a time, resumed at ``marker``."""
        from xml.sax.saxutils import escape

        prefix, marker = req.query.get("prefix", ""), req.query.get("marker", "")
        size = min(int(req.query.get("maxresults") or 5000), self.blob_page_size)
        names = sorted(k.split("/", 2)[2] for k in self.blobs if k.startswith(f"/{container}/"))
        names = [n for n in names if n.startswith(prefix) and n >= marker]
        page, rest = names[:size], names[size:]
        blobs = "".join(
            f"<Blob><Name>{escape(n)}</Name><Properties><Last-Modified>Thu, 01 Jan 2026 00:00:00 GMT</Last-Modified>"
            f"<Etag>0x1</Etag><Content-Length>{len(self.blobs[f'/{container}/{n}'])}</Content-Length>"
            "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType></Properties></Blob>"
            for n in page
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EnumerationResults ServiceEndpoint="{BLOB}/" ContainerName="{container}">'
            f"<Prefix>{escape(prefix)}</Prefix><MaxResults>{size}</MaxResults><Blobs>{blobs}</Blobs>"
            f"<NextMarker>{escape(rest[0]) if rest else ''}</NextMarker></EnumerationResults>"
        )
        return 200, {"Content-Type": "application/xml"}, body.encode()

    # -- jobs ------------------------------------------------------------------------------------------
    def _job_view(self, name: str) -> dict:
        body = copy.deepcopy(self.jobs[name])
        return body

    @route("PUT", _WS + r"/jobs/([^/]+)")
    def job_put(self, req, name):
        body = req.json()
        self.job_bodies[name] = body
        props = body["properties"]
        props["status"] = "NotStarted"
        props["services"] = {
            "Studio": {"endpoint": f"https://ml.azure.com/runs/{name}?wsid={WS_ID}", "jobServiceType": "Studio"},
            "Tracking": {"endpoint": f"azureml://{LOC}.api.azureml.ms/mlflow/v1.0{WS_ID}", "jobServiceType": "Tracking"},
        }
        props.setdefault("properties", {})
        self.jobs[name] = {
            "id": f"{WS_ID}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": props,
            "systemData": SYSTEM,
        }
        self.job_gets[name] = 0
        node = next(iter((props.get("jobs") or {}).values()), {})
        target = ((node.get("inputs") or {}).get("compute_finetune") or {}).get("value") or "gpu-cluster"
        for i, step in enumerate(STEPS):
            run_id = f"{name}-{step}"
            self.runs[run_id] = {
                "runId": run_id,
                "parent": name,
                "displayName": step,
                "status": "NotStarted",
                "createdUtc": f"2026-01-01T00:0{i}:00+00:00",
                "order": i,
                "target": target,
            }
        return _ok(self._job_view(name), 201)

    def advance(self, name: str, status: str) -> None:
        self.jobs[name]["properties"]["status"] = status

    def script(self, name: str, *statuses: str) -> None:
        """The job moves to the next of ``statuses`` at each GET of it, as a polled job would."""
        self.job_script[name] = list(statuses)

    def run_steps(self, job: str, through: str, last: str = "Completed", error: str | None = None) -> None:
        """Steps up to ``through`` start and end, in pipeline order; ``through`` ends ``last`` (with ``error``)."""
        for i, step in enumerate(STEPS[: STEPS.index(through) + 1]):
            done = step == through
            self.step(
                job,
                step,
                last if done else "Completed",
                f"2026-01-01T00:{10 * i:02d}:00+00:00",
                f"2026-01-01T00:{10 * i + 9:02d}:00+00:00" if not done or last in ("Completed", "Failed") else None,
            )
            if done and error:
                self.runs[f"{job}-{step}"]["error"] = {"error": {"code": "UserError", "message": error}}

    @route("GET", _WS + r"/jobs/([^/]+)")
    def job_get(self, req, name):
        if name not in self.jobs:
            return _err(404, "UserError", f"Job {name} not found in workspace {WS}")
        if self.job_script.get(name):
            self.advance(name, self.job_script[name].pop(0))
        return _ok(self._job_view(name))

    @route("GET", _WS + r"/jobs")
    def job_list(self, req):
        return _ok({"value": [self._job_view(n) for n in self.jobs]})

    @route("POST", _WS + r"/jobs/([^/]+)/cancel")
    def job_cancel(self, req, name):
        if name not in self.jobs:
            return _err(404, "UserError", f"Job {name} not found")
        self.advance(name, "Canceled")
        for run in self.runs.values():
            if run["parent"] == name and run["status"] not in ("Completed", "Failed"):
                run["status"] = "Canceled"
        op = self._new_op("Succeeded")
        return (
            202,
            {
                "Location": f"{MGMT}/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices/locations/{LOC}/mfeOperationResults/{op}",
                "Retry-After": "1",
            },
            b"",
        )

    def _run_body(self, run: dict) -> dict:
        return {
            "runId": run["runId"],
            "rootRunId": run["parent"],
            "parentRunId": run["parent"],
            "status": run["status"],
            "displayName": run["displayName"],
            "name": run["displayName"],
            "runType": "azureml.StepRun",
            "createdUtc": run["createdUtc"],
            "experimentId": "00000000-0000-0000-0000-0000000000e1",
            "target": run.get("target", "gpu-cluster"),
            "startTimeUtc": run.get("start"),
            "endTimeUtc": run.get("end"),
            "properties": {},
            "tags": {},
            "error": run.get("error"),
            "runDefinition": None,
            "computeRequest": None,
            "createdBy": None,
            "warnings": None,
            "revision": 1,
            "statusRevision": 1,
        }

    @route("GET", _HIST + r"/runs/([^/]+)/children")
    def run_children(self, req, name):
        kids = sorted(
            (r for r in self.runs.values() if r["parent"] == name and r["status"] != "NotStarted"), key=lambda r: r["order"]
        )
        return _ok({"value": [self._run_body(r) for r in kids]})

    @route("GET", _HIST + r"/runs/([^/]+)/details")
    def run_details(self, req, run_id):
        run = self.runs.get(run_id)
        if run is None:
            if run_id in self.jobs:
                return _ok(
                    {
                        "runId": run_id,
                        "status": self.jobs[run_id]["properties"]["status"],
                        "logFiles": {},
                        "target": "gpu-cluster",
                    }
                )
            return _err(404, "UserError", f"Run {run_id} not found")
        files = {
            k.split(f"/logs/{run_id}/", 1)[1]: f"{BLOB}{k}?sv=2021&sr=b&sig=fake"
            for k in self.blobs
            if k.startswith(f"/logs/{run_id}/")
        }
        return _ok(
            {
                "runId": run_id,
                "status": run["status"],
                "logFiles": files,
                "target": "gpu-cluster",
                "error": run.get("error"),
                "warnings": None,
            }
        )

    # -- models -------------------------------------------------------------------------------------------
    @route("PUT", _WS + r"/models/([^/]+)/versions/([^/]+)")
    def model_put(self, req, name, version):
        body = req.json()
        props = body["properties"]
        props.setdefault("tags", {})
        if not props.get("flavors"):  # the service reads MLmodel and fills these in for mlflow models
            props["flavors"] = {"python_function": {"data": {"loader_module": "mlflow.transformers"}}}
        self.models[(name, version)] = {
            "id": f"{WS_ID}/models/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
            "properties": {**props, "provisioningState": "Succeeded"},
            "systemData": SYSTEM,
        }
        return _ok(self.models[(name, version)], 201)

    @route("GET", _WS + r"/models/([^/]+)/versions/([^/]+)")
    def model_get(self, req, name, version):
        return _found(self.models, (name, version), f"Model {name}:{version} not found in workspace {WS}")

    @route("GET", _WS + r"/models/([^/]+)/versions")
    def model_versions(self, req, name):
        found = [b for (n, _), b in self.models.items() if n == name]
        if not found:
            return _err(404, "UserError", f"Could not find model container {name} in workspace {WS} (ModelNotFound)")
        found.sort(key=lambda b: _version_order(b["name"]), reverse=True)  # $orderBy=createdtime desc
        return _ok({"value": found[: int(req.query.get("$top", len(found)))]})

    @route("GET", _WS + r"/models")
    def model_list(self, req):
        names = sorted({n for n, _ in self.models})
        return _ok(
            {
                "value": [
                    {
                        "id": f"{WS_ID}/models/{n}",
                        "name": n,
                        "type": "Microsoft.MachineLearningServices/workspaces/models",
                        "properties": {
                            "latestVersion": max((v for m, v in self.models if m == n), key=_version_order),
                            "tags": {},
                        },
                        "systemData": SYSTEM,
                    }
                    for n in names
                ]
            }
        )

    # -- endpoints --------------------------------------------------------------------------------------------
    def _new_op(self, status: str, error: dict | None = None) -> str:
        self._op += 1
        op = f"op{self._op:04d}"
        self.operations[op] = {"status": status, "error": error}
        return op

    def _lro_headers(self, op: str) -> dict:
        base = f"{MGMT}/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices/locations/{LOC}"
        return {
            "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op}?api-version=2024-01-01-preview",
            "Location": f"{base}/mfeOperationResults/{op}?api-version=2024-01-01-preview",
            "x-ms-async-operation-timeout": "PT30M",
            "Retry-After": "1",
        }

    @route("PUT", _WS + r"/onlineEndpoints/([^/]+)")
    def endpoint_put(self, req, name):
        body = req.json()
        props = body["properties"]
        existing = self.endpoints.get(name)
        props["provisioningState"] = "Creating" if existing is None else "Updating"
        props["scoringUri"] = f"https://{name}.{SCORING_HOST}/score"
        props["swaggerUri"] = f"https://{name}.{SCORING_HOST}/swagger.json"
        self.endpoints[name] = {
            "id": f"{WS_ID}/onlineEndpoints/{name}",
            "name": name,
            "location": LOC,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "tags": body.get("tags") or (existing or {}).get("tags", {}),
            "identity": {"type": "SystemAssigned"},
            "kind": "Managed",
            "properties": props,
            "systemData": SYSTEM,
        }
        op = self._new_op("Succeeded")
        reply = copy.deepcopy(self.endpoints[name])
        self.endpoints[name]["properties"]["provisioningState"] = "Succeeded"
        return _ok(reply, 201, self._lro_headers(op))

    @route("GET", _WS + r"/onlineEndpoints/([^/]+)")
    def endpoint_get(self, req, name):
        return _found(self.endpoints, name, f"Online endpoint {name} not found in workspace {WS}")

    @route("GET", _WS + r"/onlineEndpoints")
    def endpoint_list(self, req):
        return _listed(self.endpoints.values())

    @route("DELETE", _WS + r"/onlineEndpoints/([^/]+)")
    def endpoint_delete(self, req, name):
        if name not in self.endpoints:
            return _err(404, "UserError", f"Online endpoint {name} not found")
        self.endpoints[name]["properties"]["provisioningState"] = "Deleting"
        op = self._new_op("Succeeded")
        self._deleting = name
        del self.endpoints[name]
        for key in [k for k in self.deployments if k[0] == name]:
            del self.deployments[key]
        return 202, self._lro_headers(op), b"null"

    @route("POST", _WS + r"/onlineEndpoints/([^/]+)/listKeys")
    def endpoint_keys(self, req, name):
        if name not in self.endpoints:
            return _err(404, "UserError", f"Online endpoint {name} not found")
        return _ok({"primaryKey": "fake-key-1", "secondaryKey": "fake-key-2"})

    @route("PUT", _WS + r"/onlineEndpoints/([^/]+)/deployments/([^/]+)")
    def deployment_put(self, req, endpoint, name):
        body = req.json()
        props = body["properties"]
        props["provisioningState"] = "Creating"
        # defaults the service fills in (as in recording 07)
        props.setdefault("scaleSettings", {"scaleType": "Default"})
        props.setdefault(
            "readinessProbe",
            {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S", "initialDelay": "PT10S"},
        )
        props.setdefault("endpointComputeType", "Managed")
        self.deployments[(endpoint, name)] = {
            "id": f"{WS_ID}/onlineEndpoints/{endpoint}/deployments/{name}",
            "name": name,
            "location": LOC,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            "tags": body.get("tags", {}),
            "sku": body.get("sku"),
            "kind": "Managed",
            "properties": props,
            "systemData": SYSTEM,
        }
        op = self._new_op("Succeeded")
        reply = copy.deepcopy(self.deployments[(endpoint, name)])
        self.deployments[(endpoint, name)]["properties"]["provisioningState"] = "Succeeded"
        return _ok(reply, 201, self._lro_headers(op))

    @route("GET", _WS + r"/onlineEndpoints/([^/]+)/deployments/([^/]+)")
    def deployment_get(self, req, endpoint, name):
        return _found(self.deployments, (endpoint, name), f"Deployment {name} not found on endpoint {endpoint}")

    @route("GET", _WS + r"/onlineEndpoints/([^/]+)/deployments")
    def deployment_list(self, req, endpoint):
        return _ok({"value": [b for (e, _), b in self.deployments.items() if e == endpoint]})

    @route("POST", _WS + r"/onlineEndpoints/([^/]+)/deployments/([^/]+)/getLogs")
    def deployment_logs(self, req, endpoint, name):
        if (endpoint, name) not in self.deployments:
            return _err(404, "UserError", f"Deployment {name} not found on endpoint {endpoint}")
        return _ok({"content": "Booting worker with pid: 7\nModel loaded\n"})

    @route("POST", _WS + r"/onlineEndpoints/([^/]+)/regenerateKeys")
    def endpoint_regenerate(self, req, name):
        self.regenerated = req.json().get("keyType")
        return 202, self._lro_headers(self._new_op("Succeeded")), b""

    @route("GET", _SUB + r"/locations/[^/]+/mfeOperationsStatus/([^/]+)")
    def operation_status(self, req, op):
        state = self.operations.get(op, {"status": "Succeeded"})
        body = {"id": op, "name": op, "status": state["status"], "startTime": "2026-01-01T00:00:00Z"}
        if state.get("error"):
            body["error"] = state["error"]
        return _ok(body)

    @route("GET", _SUB + r"/locations/[^/]+/mfeOperationResults/([^/]+)")
    def operation_result(self, req, op):
        return 200, {"Content-Type": "application/json"}, b"null"

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self.metrics.setdefault(run_id, []).append(
            {"key": key, "value": value, "step": step, "timestamp": 1767225600000 + step * 1000}
        )

    @route("GET", r"/mlflow/v1\.0" + _WS + r"/api/2\.0/mlflow/runs/get")
    def mlflow_run(self, req):
        if not req.headers.get("Authorization", "").startswith("Bearer "):
            return _err(401, "Unauthorized", "no token")
        run_id = req.query["run_id"]
        latest = {m["key"]: m for m in self.metrics.get(run_id, [])}
        return _ok({"run": {"info": {"run_id": run_id}, "data": {"metrics": list(latest.values())}}})

    @route("GET", r"/mlflow/v1\.0" + _WS + r"/api/2\.0/mlflow/metrics/get-history")
    def mlflow_history(self, req):
        run_id, key = req.query["run_id"], req.query["metric_key"]
        return _ok({"metrics": [m for m in self.metrics.get(run_id, []) if m["key"] == key]})

    @route("GET", _WS + r"/onlineEndpoints/([^/]+)/providers/Microsoft\.Insights/metrics")
    def endpoint_metrics(self, req, name):
        """Azure Monitor's Metrics - List on an endpoint: RequestsPerMinute, one data point per minute of the
        timespan, the endpoint's request count (``endpoint_requests``) in the last one, as the real answer is shaped."""
        q = req.query
        if (q.get("api-version"), q.get("metricnames"), q.get("aggregation"), q.get("interval")) != (
            "2023-10-01",
            "RequestsPerMinute",
            "Total",
            "PT1M",
        ) or "/" not in q.get("timespan", ""):
            return _err(400, "BadRequest", f"unexpected metrics query {sorted(q.items())}")
        if name not in self.endpoints:
            return _err(404, "ResourceNotFound", f"The Resource '.../onlineEndpoints/{name}' was not found.")
        start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in q["timespan"].split("/"))
        minutes = max(1, int((end - start).total_seconds() // 60) + 1)
        data = [
            {"timeStamp": (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:00Z"), "total": 0.0} for i in range(minutes)
        ]
        data[-1]["total"] = float(self.endpoint_requests.get(name, 0))
        return _ok(
            {
                "cost": minutes,
                "timespan": q["timespan"],
                "interval": "PT1M",
                "value": [
                    {
                        "id": f"{WS_ID}/onlineEndpoints/{name}/providers/Microsoft.Insights/metrics/RequestsPerMinute",
                        "type": "Microsoft.Insights/metrics",
                        "name": {"value": "RequestsPerMinute", "localizedValue": "Requests per minute"},
                        "displayDescription": "The number of requests sent to online endpoint within a minute",
                        "unit": "Count",
                        "timeseries": [{"metadatavalues": [], "data": data}],
                        "errorCode": "Success",
                    }
                ],
                "namespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "resourceregion": LOC,
            }
        )

    @route("POST", r"/score")
    def score(self, req):
        self.scored.append(
            {
                "host": req.host,
                "auth": "Authorization" in req.headers,
                "body": req.json(),
                "deployment": req.headers.get("azureml-model-deployment"),
            }
        )
        return _ok(self.score_reply)


# handler name -> (method, path pattern), in the class's order: no path matches two patterns of one method
ROUTES: dict[str, tuple[str, str]] = {name: fn.route for name, fn in vars(FakeAzure).items() if hasattr(fn, "route")}


def standard_fake() -> FakeAzure:
    """The tutorial's world: Phi-3 in the registry, an A100 cluster, its VM size."""
    fake = FakeAzure()
    fake.add_registry_model("Phi-3-mini-4k-instruct", "7", PHI3_TAGS)
    fake.add_registry_model("Phi-3-mini-4k-instruct", "6", PHI3_TAGS)
    fake.add_compute("gpu-a100", "Standard_NC24ads_A100_v4")
    fake.add_vm_size("Standard_NC24ads_A100_v4", 1)
    fake.add_vm_size("Standard_NC6s_v3", 1, 112, 6, family="standardNCSv3Family")
    fake.add_vm_size("Standard_DS3_v2", 0, 14, 4)
    return fake
