"""A planned job as files a user can take elsewhere: the YAML `az ml job create --file` reads,
or the tutorial's SDK code for the same job.

The YAML is the SDK's own serialization of the very PipelineJob finetui would submit,
so loading it back with ``azure.ai.ml.load_job`` gives the same job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models import JobPlan
from .client import quiet


def job_yaml(job: Any, plan: JobPlan) -> str:
    import yaml

    with quiet():
        data = job._to_dict()
    data["experiment_name"] = plan.experiment
    for node in (data.get("jobs") or {}).values():
        component = node.get("component")
        if isinstance(component, dict) and component.get("id"):
            node["component"] = component["id"]  # the registry's component by reference, not a copy of it
        for value in (node.get("inputs") or {}).values():
            path = value.get("path") if isinstance(value, dict) else None
            if isinstance(path, str) and path.startswith("azureml:") and Path(path[len("azureml:") :]).is_file():
                value["path"] = path[len("azureml:") :]  # a local file, uploaded by `az ml job create`
    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))  # str: no stream was given


def job_python(plan: JobPlan, workspace: Any) -> str:
    """The tutorial's cells for this job: clients, the component, the pipeline, the submit."""
    files = {k: v for k, v in plan.inputs.items() if k in ("train_file_path", "test_file_path")}
    args = []
    for key, value in plan.inputs.items():
        if key in files:
            args.append(f'        {key}=Input(type="uri_file", path={value!r}),')
        else:
            args.append(f"        {key}={value!r},")
    body = "\n".join(args)
    return f"""from azure.ai.ml import Input, MLClient
from azure.ai.ml.dsl import pipeline
from azure.identity import DefaultAzureCredential

credential = DefaultAzureCredential()
workspace_ml_client = MLClient(
    credential,
    subscription_id={workspace.subscription_id!r},
    resource_group_name={workspace.resource_group!r},
    workspace_name={workspace.workspace_name!r},
)
registry_ml_client = MLClient(credential, registry_name="azureml")

pipeline_component_func = registry_ml_client.components.get(name="chat_completion_pipeline", label="latest")


@pipeline(name={plan.display_name!r})
def create_pipeline():
    chat_completion_pipeline = pipeline_component_func(
{body}
    )
    return {{"trained_model": chat_completion_pipeline.outputs.mlflow_model_folder}}


pipeline_object = create_pipeline()
pipeline_object.display_name = {plan.display_name!r}
pipeline_object.settings.force_rerun = {plan.settings["force_rerun"]!r}
pipeline_object.settings.continue_on_step_failure = {plan.settings["continue_on_step_failure"]!r}
pipeline_job = workspace_ml_client.jobs.create_or_update(pipeline_object, experiment_name={plan.experiment!r})
print(pipeline_job.name)
"""


def endpoint_yaml(endpoint: Any, deployment: Any) -> dict[str, str]:
    """The endpoint and its deployment as the two YAML files `az ml online-endpoint create --file` and
    `az ml online-deployment create --file` read."""
    import yaml

    with quiet():
        ep, dep = _plain(endpoint._to_dict()), _plain(deployment._to_dict())
    return {"endpoint": yaml.safe_dump(ep, sort_keys=False), "deployment": yaml.safe_dump(dep, sort_keys=False)}


def _plain(data: Any) -> Any:
    """The SDK's dicts (OrderedDicts, enums) as plain YAML-safe values."""
    import json

    return json.loads(json.dumps(data, default=str))
