"""An Azure job's Trainer checkpoints, read from the finetune step's output on the workspace's datastore.

``chat_completion_finetune`` writes its output ``pytorch_model_folder``: the
best model and a ``checkpoint-N`` folder after every evaluation, each with
the Trainer's ``trainer_state.json``. The pipeline names no path for it, so
the service puts it where every unnamed output goes, ``azureml/<step run
id>/<output name>/`` on the default datastore (the same place the SDK's own
``jobs.download`` looks when run history does not report an output).

The datastore's account and credential come from the SDK
(``datastores.get_default(include_secrets=True)``); the folders are listed and
the newest state file read with azure-storage-blob, which the SDK itself uses
for uploads, through the SDK's transport. Only the newest state is read: its
history holds every earlier step, so one small download covers the table.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..checkpoint_rows import STATE_FILE, STATE_MAX_BYTES, Saved, checkpoint_rows, checkpoint_step, has_weights, well_formed
from ..errors import OperationFailed
from ..models import Checkpoint
from .client import AzureClient

OUTPUT = "pytorch_model_folder"


def output_prefix(step_run_id: str) -> str:
    return f"azureml/{step_run_id}/{OUTPUT}/"


def group_checkpoints(sizes: dict[str, int], prefix: str) -> dict[int, dict[str, int]]:
    """Blob name -> bytes under ``prefix``, as step -> (path inside ``checkpoint-N/`` -> bytes)."""
    found: dict[int, dict[str, int]] = {}
    for name, size in sizes.items():
        folder, _, inside = name[len(prefix) :].partition("/")
        step = checkpoint_step(folder)
        if step is not None and inside:
            found.setdefault(step, {})[inside] = size
    return found


class AzureCheckpoints:
    def __init__(self, client: AzureClient, finetune_run: Callable[[str], str | None]) -> None:
        self.client = client
        self.finetune_run = finetune_run  # job name -> its finetune step's run id, None before it starts
        # the datastore and its container client, fetched once: the app re-reads a running job's checkpoints
        # on every poll, and each fetch of the datastore's secret is one more secret read in the audit log
        self._opened: tuple[Any, Any] | None = None

    def list(self, name: str) -> list[Checkpoint]:
        run_id = self.finetune_run(name)
        if run_id is None:
            return []
        if self._opened is None:
            store = self._datastore()
            self._opened = store, self._container(store)
        store, container = self._opened
        prefix = output_prefix(run_id)
        ctx = self.client.ws_ctx(f"checkpoints of job {name} (datastore {store.name}, {prefix})")

        def read() -> list[Saved]:
            sizes = {b.name: int(b.size or 0) for b in container.list_blobs(name_starts_with=prefix)}
            folders = group_checkpoints(sizes, prefix)
            complete = sorted(step for step, files in folders.items() if files.get(STATE_FILE, 0) > 0 and has_weights(files))
            saved = [Saved(self._uri(store.name, f"{prefix}checkpoint-{step}"), step) for step in complete]
            # newest first: a state file the Trainer had not finished writing does not parse; the one before it does
            for i in reversed(range(len(saved))):
                step = saved[i].step
                state = self._state(container, f"{prefix}checkpoint-{step}/{STATE_FILE}", folders[step][STATE_FILE])
                if state is not None:
                    saved[i] = Saved(saved[i].path, saved[i].step, state)
                    return saved[: i + 1]
            return []

        return checkpoint_rows(self.client.call(read, ctx))

    def _datastore(self) -> Any:
        ws = self.client.ws
        return self.client.call(
            lambda: ws.datastores.get_default(include_secrets=True), self.client.ws_ctx("the workspace's default datastore")
        )

    def _container(self, store: Any) -> Any:
        from azure.ai.ml.entities import AzureBlobDatastore
        from azure.storage.blob import ContainerClient

        if not isinstance(store, AzureBlobDatastore):
            kind = getattr(store.type, "value", store.type)
            raise OperationFailed(
                f"the workspace's default datastore {store.name} is {kind}, not blob storage; "
                "finetui reads checkpoints from blob datastores only"
            )
        account_url = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint or 'core.windows.net'}"
        credentials = getattr(store, "credentials", None)
        credential: Any = getattr(credentials, "account_key", None) or getattr(credentials, "sas_token", None)
        if credential is None:  # an identity-based datastore: the signed-in identity reads the blobs itself
            credential = self.client.credential
        kw: dict[str, Any] = {"transport": self.client.transport} if self.client.transport is not None else {}
        return ContainerClient(account_url, store.container_name, credential=credential, **kw)

    def _state(self, container: Any, blob: str, size: int) -> dict[str, Any] | None:
        if size > STATE_MAX_BYTES:
            return None
        try:
            state = json.loads(container.get_blob_client(blob).download_blob().readall())
        except ValueError:
            return None
        return state if well_formed(state) else None

    @staticmethod
    def _uri(datastore: str, path: str) -> str:
        return f"azureml://datastores/{datastore}/paths/{path}"
