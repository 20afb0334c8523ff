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
    return AzureBackend(
        subscription_id=SUB,
        resource_group=RG,
        workspace_name=WS,
        credential=FakeCredential(),
        transport=fake.transport,
        retry_backoff_factor=0.01,
    )


@pytest.fixture
def chat_files(tmp_path):
    import json

    row = {
        "prompt": "Say hi",
        "prompt_id": "p1",
        "messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}],
    }
    train, test = tmp_path / "train_sft.jsonl", tmp_path / "test_sft.jsonl"
    train.write_text("\n".join(json.dumps({**row, "prompt_id": f"p{i}"}) for i in range(4)) + "\n")
    test.write_text(json.dumps(row) + "\n")
    return train, test


class AzureCli:
    """``finetui --backend azure`` in subprocesses against one fake service, signed in as a service principal."""

    def __init__(self, fake, login, server, cwd, env) -> None:
        self.fake, self.login, self.server, self.cwd, self.env = fake, login, server, cwd, env

    def run(self, *args: str, **kw):
        from azure_server import finetui_azure

        return finetui_azure(self.cwd, self.env, *args, **kw)

    def json(self, *args: str):
        import json

        proc = self.run(*args, "--json")
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return json.loads(proc.stdout)


@pytest.fixture
def azure_cli(tmp_path):
    """The tutorial's world served over HTTP to CLI subprocesses; .azureml/config.json in their directory."""
    import json

    from azure_fake import RG, SUB, WS, standard_fake
    from azure_login import FakeLogin
    from azure_server import FakeServer, azure_env

    fake, login = standard_fake(), FakeLogin(upn="ci@contoso.example")

    def route(req):
        if req.host in ("login.microsoftonline.com", "169.254.169.254"):
            return login(req)
        return fake(req)

    server = FakeServer(route)
    cwd = tmp_path / "project"
    (cwd / ".azureml").mkdir(parents=True)
    (cwd / ".azureml" / "config.json").write_text(
        json.dumps({"subscription_id": SUB, "resource_group": RG, "workspace_name": WS})
    )
    yield AzureCli(fake, login, server, cwd, azure_env(server, tmp_path))
    server.close()
