"""What a finetui action is in the Azure ML tutorial's own terms: ``az ml`` commands and azure-ai-ml calls.

``azure_equivalents(action, params, workspace)`` maps one action (``"endpoint
create"`` with its parameters) to the ``az ml`` lines (ml extension v2, flags
as the Azure CLI reference spells them) and the Python SDK lines the tutorial
would use, with the objects ``ml_client`` (the workspace) and
``registry_client`` (the ``azureml`` registry) that ``SDK_PRELUDE`` builds.
Keys are never in them: ``$ENDPOINT_KEY`` and a note on where to get it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

DEPLOYMENT = "demo"  # the tutorial's (and core/azure/endpoints.py's) one deployment
INSTANCE_TYPE = "Standard_NC6s_v3"


@dataclass(frozen=True)
class AzureTarget:
    subscription_id: str
    resource_group: str
    workspace_name: str
    registry_name: str = "azureml"

    @property
    def az_scope(self) -> list[str]:
        return [
            "--resource-group",
            self.resource_group,
            "--workspace-name",
            self.workspace_name,
            "--subscription",
            self.subscription_id,
        ]


@dataclass
class Equivalents:
    az: list[str] = field(default_factory=list)
    sdk: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sdk_prelude(target: AzureTarget) -> list[str]:
    return [
        "from azure.ai.ml import MLClient",
        "from azure.ai.ml.constants import AssetTypes",
        "from azure.ai.ml.entities import AmlCompute, ManagedOnlineDeployment, ManagedOnlineEndpoint, Model, "
        "OnlineRequestSettings, ProbeSettings",
        "from azure.identity import DefaultAzureCredential",
        "",
        "credential = DefaultAzureCredential()",
        f"ml_client = MLClient(credential, subscription_id={target.subscription_id!r}, "
        f"resource_group_name={target.resource_group!r}, workspace_name={target.workspace_name!r})",
        f"registry_client = MLClient(credential, registry_name={target.registry_name!r})",
    ]


def _ref(ref: str) -> tuple[str, str | None]:
    name, _, version = str(ref).partition(":")
    return name, version or None


def _az(target: AzureTarget, *words: Any, registry: bool = False) -> str:
    scope = ["--registry-name", target.registry_name] if registry else target.az_scope
    return shlex.join(["az", "ml", *(str(w) for w in words), *scope])


def _endpoint_create(p: dict[str, Any], t: AzureTarget, out: Equivalents) -> None:
    name = p["name"]
    model_name, version = _ref(p["model"])
    model_id = f"azureml:{model_name}:{version}" if version else f"azureml:{model_name}@latest"
    timeout = int(p.get("request_timeout_ms") or 90000)
    out.az += [
        _az(t, "online-endpoint", "create", "--name", name, "--auth-mode", "key"),
        _az(
            t,
            "online-deployment",
            "create",
            "--file",
            "deployment.yml",
            "--endpoint-name",
            name,
            "--name",
            DEPLOYMENT,
            "--set",
            f"model={model_id}",
            f"instance_type={INSTANCE_TYPE}",
            "instance_count=1",
            f"request_settings.request_timeout_ms={timeout}",
            "liveness_probe.initial_delay=600",
        ),
        _az(t, "online-endpoint", "update", "--name", name, "--traffic", f"{DEPLOYMENT}=100"),
    ]
    model_get = (
        f"registered = ml_client.models.get({model_name!r}, version={version!r})"
        if version
        else f"registered = ml_client.models.get({model_name!r}, label='latest')"
    )
    out.sdk += [
        f"ml_client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name={name!r}, auth_mode='key')).result()",
        model_get,
        f"ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(name={DEPLOYMENT!r}, "
        f"endpoint_name={name!r}, model=registered.id, instance_type={INSTANCE_TYPE!r}, instance_count=1, "
        f"liveness_probe=ProbeSettings(initial_delay=600), "
        f"request_settings=OnlineRequestSettings(request_timeout_ms={timeout}))).result()",
        f"endpoint = ml_client.online_endpoints.get({name!r})",
        f"endpoint.traffic = {{{DEPLOYMENT!r}: 100}}",
        "ml_client.online_endpoints.begin_create_or_update(endpoint).result()",
    ]
    out.notes.append(
        "deployment.yml: $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json "
        "(every other field comes from --set)"
    )
    if p.get("ttl"):
        out.notes.append(
            f"--ttl {p['ttl']}: az ml has no time to live; finetui's watcher process deletes the endpoint "
            f"then (`finetui endpoint show {name}` shows it)"
        )
    if p.get("idle_timeout"):
        out.notes.append(
            f"--idle-timeout {p['idle_timeout']}: az ml has no idle timeout; finetui's watcher process deletes the "
            f"endpoint when Azure Monitor's RequestsPerMinute shows none for that long (`finetui endpoint show {name}`)"
        )


_NAME = object()  # stands for the action's NAME among the words of an az line

# The actions whose two lines differ only by words: the az words after ``az ml``,
# and the SDK call with ``{name!r}`` where the NAME goes.
_BY_WORDS: dict[str, tuple[tuple[object, ...], str]] = {
    "compute list": (("compute", "list"), "list(ml_client.compute.list())"),
    "job list": (("job", "list"), "list(ml_client.jobs.list())"),
    "job cancel": (("job", "cancel", "--name", _NAME), "ml_client.jobs.begin_cancel({name!r}).result()"),
    "endpoint list": (("online-endpoint", "list"), "list(ml_client.online_endpoints.list())"),
    "endpoint show": (("online-endpoint", "show", "--name", _NAME), "ml_client.online_endpoints.get({name!r})"),
    "endpoint keys": (("online-endpoint", "get-credentials", "--name", _NAME), "ml_client.online_endpoints.get_keys({name!r})"),
    "endpoint delete": (
        ("online-endpoint", "delete", "--name", _NAME, "--yes"),
        "ml_client.online_endpoints.begin_delete(name={name!r}).result()",
    ),
}


def azure_equivalents(action: str, p: dict[str, Any], t: AzureTarget) -> Equivalents:
    """The az ml and SDK lines of one action; empty for actions with no Azure counterpart."""
    out = Equivalents()
    name = p.get("name")
    if action in _BY_WORDS:
        words, call = _BY_WORDS[action]
        out.az.append(_az(t, *(name if w is _NAME else w for w in words)))
        out.sdk.append(call.format(name=name))
    elif action == "model list":
        out.az.append(_az(t, "model", "list", registry=True))
        out.sdk.append("list(registry_client.models.list())")
    elif action == "model show":
        model, version = _ref(p["ref"])
        out.az.append(
            _az(
                t,
                "model",
                "show",
                "--name",
                model,
                *(("--version", version) if version else ("--label", "latest")),
                registry=True,
            )
        )
        out.sdk.append(
            f"registry_client.models.get({model!r}, version={version!r})"
            if version
            else f"registry_client.models.get({model!r}, label='latest')"
        )
    elif action == "model register" and p.get("checkpoint"):
        # the pipeline keeps only the final model: nothing in az ml registers a checkpoint
        out.notes.append(f"--checkpoint {p['checkpoint']}: az ml registers only a job's final output (trained_model)")
    elif action == "model register":
        path = f"azureml://jobs/{p['job']}/outputs/trained_model"
        version = p.get("version")
        out.az.append(
            _az(
                t,
                "model",
                "create",
                "--name",
                name,
                *(("--version", version) if version else ()),
                "--type",
                "mlflow_model",
                "--path",
                path,
            )
        )
        out.sdk.append(
            f"ml_client.models.create_or_update(Model(path={path!r}, name={name!r}, "
            + (f"version={version!r}, " if version else "")
            + "type=AssetTypes.MLFLOW_MODEL))"
        )
    elif action == "compute check" and p.get("target"):
        out.az.append(_az(t, "compute", "show", "--name", p["target"]))
        out.sdk.append(f"ml_client.compute.get({p['target']!r})")
    elif action == "azure compute-create":
        out.az.append(
            _az(
                t,
                "compute",
                "create",
                "--name",
                name,
                "--type",
                "AmlCompute",
                "--size",
                p["size"],
                "--min-instances",
                p.get("min_nodes", 0),
                "--max-instances",
                p.get("max_nodes", 1),
            )
        )
        out.sdk.append(
            f"ml_client.compute.begin_create_or_update(AmlCompute(name={name!r}, size={p['size']!r}, "
            f"min_instances={p.get('min_nodes', 0)}, max_instances={p.get('max_nodes', 1)})).result()"
        )
    elif action in ("job show", "azure steps"):
        job = p.get("name") or p.get("job")
        out.az.append(_az(t, "job", "show", "--name", job))
        out.sdk.append(f"ml_client.jobs.get({job!r})")
    elif action in ("job logs", "azure logs"):
        job = p.get("name") or p.get("job")
        out.az.append(_az(t, "job", "stream", "--name", job))
        out.sdk.append(f"ml_client.jobs.stream({job!r})")
    elif action == "job submit":
        out.az.append(_az(t, "job", "create", "--file", "pipeline_job.yml"))
        out.sdk.append("ml_client.jobs.create_or_update(pipeline_job)")
        out.notes.append(
            "pipeline_job.yml / pipeline_job: the azureml registry's chat_completion_pipeline with this "
            "job's model, data and spec, as the tutorial builds it"
        )
    elif action == "endpoint create":
        _endpoint_create(p, t, out)
    elif action == "endpoint regenerate-keys":
        out.az.append(_az(t, "online-endpoint", "regenerate-keys", "--name", name, "--key-type", p["which"]))
        out.sdk.append(f"ml_client.online_endpoints.begin_regenerate_keys(name={name!r}, key_type={p['which']!r}).result()")
    elif action == "endpoint logs":
        out.az.append(_az(t, "online-deployment", "get-logs", "--name", DEPLOYMENT, "--endpoint-name", name, "--lines", 2000))
        out.sdk.append(f"ml_client.online_deployments.get_logs(name={DEPLOYMENT!r}, endpoint_name={name!r}, lines=2000)")
    elif action == "endpoint invoke":
        out.az.append(_az(t, "online-endpoint", "invoke", "--name", name, "--request-file", p["request_file"]))
        out.sdk.append(f"ml_client.online_endpoints.invoke(endpoint_name={name!r}, request_file={p['request_file']!r})")
    return out
