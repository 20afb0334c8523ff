"""Azure tests: the real azure-ai-ml SDK against a fake service behind its transport.

The SDK reads its run-polling intervals when imported, so they are set here first.
"""

from __future__ import annotations

import os

os.environ["AZUREML_RUN_POLLING_INTERVAL_MIN"] = "0"
os.environ["AZUREML_RUN_POLLING_INTERVAL_MAX"] = "0"

import pytest  # noqa: E402

PHI3 = "Phi-3-mini-4k-instruct"  # the tutorial's foundation model, in the fake registry


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

    def run_local(self, *args: str):
        """``finetui ARGS`` without --backend (so the local backend), in this CLI's directory and environment."""
        import subprocess
        import sys

        return subprocess.run(
            [sys.executable, "-m", "finetui.tui.cli.main", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def write_chat(self, *names: str) -> None:
        """A one-row chat file (hi / yo) under each of ``names`` in the CLI's directory."""
        import json

        row = {
            "prompt": "hi",
            "prompt_id": "1",
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        }
        for name in names:
            (self.cwd / name).write_text(json.dumps(row) + "\n")

    def submit(self, *sets: str, test: str | None = None, compute: str = "gpu-a100"):
        """``job submit --json`` of Phi-3-mini-4k-instruct on train_sft.jsonl (see write_chat): the job's record."""
        from cli_helpers import submit_args

        return self.json(*submit_args(PHI3, "train_sft.jsonl", *sets, test=test, compute=compute))


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
