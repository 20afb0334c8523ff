"""Which Azure ML workspace: options, then FINETUI_AZURE_* variables, then config.json.

config.json is found where ``MLClient.from_config`` looks for it: the path
given (a file, or a folder to start from), else the working directory, its
``.azureml/`` (or ``aml_config/``) subfolder, and each parent in turn. Nothing
here touches the network, so the backend can be built before sign-in.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

CONFIG_NAMES = ("config.json",)
CONFIG_DIRS = (".azureml", "aml_config", "")


@dataclass(frozen=True)
class WorkspaceRef:
    subscription_id: str
    resource_group: str
    workspace_name: str
    source: str  # where it came from: a config.json path, or "options"

    def describe(self) -> str:
        return f"workspace {self.workspace_name} (resource group {self.resource_group}, subscription {self.subscription_id})"


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """Where MLClient.from_config would look: a file, or a folder and its parents (.azureml/ too)."""
    path = Path(start or ".").expanduser()
    if path.is_file():
        return path
    if start is not None and not path.exists():
        return None
    for folder in [path.resolve(), *path.resolve().parents][:21]:
        for sub in CONFIG_DIRS:
            for name in CONFIG_NAMES:
                candidate = folder / sub / name if sub else folder / name
                if candidate.is_file():
                    return candidate
    return None


ENV_OPTIONS = {
    "subscription_id": "FINETUI_AZURE_SUBSCRIPTION",
    "resource_group": "FINETUI_AZURE_RESOURCE_GROUP",
    "workspace_name": "FINETUI_AZURE_WORKSPACE_NAME",
    "config_path": "FINETUI_AZURE_CONFIG",
    "registry_name": "FINETUI_AZURE_REGISTRY",
}


def options_from_env(environ: Any = None) -> dict[str, str]:
    """AzureBackend options set in the environment (FINETUI_AZURE_*), for the layers below the command line."""
    env = os.environ if environ is None else environ
    return {key: env[var] for key, var in ENV_OPTIONS.items() if env.get(var)}


def resolve_azure_workspace(
    subscription_id: str | None = None,
    resource_group: str | None = None,
    workspace_name: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
) -> WorkspaceRef:
    """Options first, then FINETUI_AZURE_* variables; any still missing come from config.json."""
    env = options_from_env()
    subscription_id = subscription_id or env.get("subscription_id")
    resource_group = resource_group or env.get("resource_group")
    workspace_name = workspace_name or env.get("workspace_name")
    config_path = config_path or env.get("config_path")
    if subscription_id and resource_group and workspace_name and not config_path:
        return WorkspaceRef(subscription_id, resource_group, workspace_name, "options")
    found = find_config(config_path)
    if found is None:
        where = f"{config_path}" if config_path else f"{Path.cwd()} or its parents (also .azureml/)"
        raise InvalidInput(
            f"no Azure ML workspace: config.json not found in {where}",
            hint="download config.json from the workspace's page in Azure ML studio, or pass "
            "--subscription, --resource-group and --workspace-name",
        )
    try:
        data = json.loads(found.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{found}: not a readable JSON file ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{found}: expected a JSON object with subscription_id, resource_group, workspace_name")
    values = {
        "subscription_id": subscription_id or data.get("subscription_id"),
        "resource_group": resource_group or data.get("resource_group"),
        "workspace_name": workspace_name or data.get("workspace_name"),
    }
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise InvalidInput(f"{found}: missing key {', '.join(missing)}")
    return WorkspaceRef(str(values["subscription_id"]), str(values["resource_group"]), str(values["workspace_name"]), str(found))
