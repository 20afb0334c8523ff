"""The app's actions in the command log: a backend call recorded as the CLI command that does the same.

The app calls backend methods (``submit_job``, ``delete_endpoint``, ...)
where the CLI runs commands; ``recorded_call`` wraps such a call so that it
lands in the same log (core/command_log.py) as its CLI twin would, with the
same ``finetui`` line and Azure equivalents, marked ``source="app"``. Calls
that only read are not recorded, as a screen refresh is not an action.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

from .command_log import LoggedAction, finetui_command, now, outcome_of, record
from .errors import FinetuiError


def _job_submit(request: Any) -> tuple[str, list[str], dict[str, Any]]:
    tokens = ["job", "submit", "--model", request.model, "--train", os.path.abspath(request.train_file)]
    if request.test_file:
        tokens += ["--test", os.path.abspath(request.test_file)]
    for key, value in (request.spec or {}).items():
        tokens += ["--set", f"{key}={value}"]
    for flag, value in (
        ("--compute", request.compute),
        ("--experiment", request.experiment),
        ("--display-name", request.display_name),
    ):
        if value:
            tokens += [flag, value]
    if request.force:
        tokens.append("--force")
    return "job submit", tokens, {"model": request.model, "train_file": request.train_file}


def _model_register(
    job: str, name: str, version: str | None = None, description: str = "", checkpoint: str | None = None
) -> tuple[str, list[str], dict[str, Any]]:
    tokens = ["model", "register", "--job", job, *(["--checkpoint", checkpoint] if checkpoint else []), "--name", name]
    tokens += [*(["--version", version] if version else []), *(["--description", description] if description else [])]
    return "model register", tokens, {"job": job, "name": name, "version": version, "checkpoint": checkpoint}


# backend method -> (action, finetui words after the globals, parameters for the Azure equivalents)
_ACTIONS: dict[str, Callable[..., tuple[str, list[str], dict[str, Any]]]] = {
    "submit_job": _job_submit,
    "cancel_job": lambda name: ("job cancel", ["job", "cancel", name], {"name": name}),
    "register_model": _model_register,
    "register_checkpoint": lambda job, checkpoint, name, version=None, description="": _model_register(
        job, name, version, description, checkpoint
    ),
    "delete_endpoint": lambda name, **_: ("endpoint delete", ["endpoint", "delete", name, "--yes"], {"name": name}),
}


def entry_for(
    backend: Any, method: str, args: tuple, kwargs: dict, workspace: Path, exit_code: int, error: str | None
) -> LoggedAction | None:
    maker = _ACTIONS.get(method)
    if maker is None:
        return None
    action, tokens, params = maker(*args, **kwargs)
    target = None
    az: list[str] = []
    sdk: list[str] = []
    notes: list[str] = []
    ws = getattr(backend, "workspace", None)
    if getattr(backend, "name", "local") == "azure" and ws is not None:
        from .equivalents import AzureTarget, azure_equivalents

        target = AzureTarget(
            ws.subscription_id, ws.resource_group, ws.workspace_name, getattr(backend, "registry_name", None) or "azureml"
        )
        eq = azure_equivalents(action, params, target)
        az, sdk, notes = eq.az, eq.sdk, eq.notes
    return LoggedAction(
        time=now(),
        backend=getattr(backend, "name", "local"),
        action=action,
        outcome=outcome_of(exit_code),
        exit_code=exit_code,
        error=error,
        finetui=finetui_command(workspace, getattr(backend, "name", "local"), tokens, target),
        az=tuple(az),
        sdk=tuple(sdk),
        notes=tuple(notes),
        source="app",
    )


def recorded_call(backend: Any, method: str, fn: Callable[..., Any], workspace: Path | None) -> Callable[..., Any]:
    """``fn`` (a bound backend method), logging the action when it is one; reads pass through unchanged."""
    if method not in _ACTIONS or workspace is None:
        return fn

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        def save(code: int, error: str | None) -> None:
            entry = entry_for(backend, method, args, kwargs, Path(workspace), code, error)
            if entry is not None:
                try:
                    record(Path(workspace), entry)
                except FinetuiError:
                    pass  # the action's own outcome matters more than its log line

        try:
            value = fn(*args, **kwargs)
        except FinetuiError as exc:
            save(exc.exit_code, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        except Exception as exc:
            save(1, f"{type(exc).__name__}: {exc}".splitlines()[0])
            raise
        save(0, None)
        return value

    return call
