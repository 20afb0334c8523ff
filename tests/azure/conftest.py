"""Azure tests: the real azure-ai-ml SDK against a fake service behind its transport.

The SDK reads its run-polling intervals when imported, so they are set here first.
"""

from __future__ import annotations

import os

os.environ["AZUREML_RUN_POLLING_INTERVAL_MIN"] = "0"
os.environ["AZUREML_RUN_POLLING_INTERVAL_MAX"] = "0"

import pytest  # noqa: E402


@pytest.fixture
def fake(monkeypatch):
    """The tutorial's world (azure_fake.standard_fake) with every HTTP request routed to it."""
    from azure_fake import standard_fake
    from azure_replay import install

    world = standard_fake()
    world.transport = install(monkeypatch, world)
    return world


@pytest.fixture
def backend(fake, tmp_path, monkeypatch):
    """An AzureBackend on the fake, signed in with a JWT-shaped test credential."""
    from azure_fake import RG, SUB, WS
    from azure_replay import FakeCredential

    from finetui.core.azure.backend import AzureBackend

    monkeypatch.chdir(tmp_path)  # the SDK reads git info from the working directory
    return AzureBackend(subscription_id=SUB, resource_group=RG, workspace_name=WS, credential=FakeCredential(),
                        transport=fake.transport, retry_backoff_factor=0.01)


@pytest.fixture
def chat_files(tmp_path):
    import json

    row = {"prompt": "Say hi", "prompt_id": "p1",
           "messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}]}
    train, test = tmp_path / "train_sft.jsonl", tmp_path / "test_sft.jsonl"
    train.write_text("\n".join(json.dumps({**row, "prompt_id": f"p{i}"}) for i in range(4)) + "\n")
    test.write_text(json.dumps(row) + "\n")
    return train, test
