"""Sign-in over SSH: the device-code prompt reaches the UI, and a silent IMDS endpoint cannot hang us."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from azure_login import USER_CODE, VERIFY_URL, FakeLogin
from azure_replay import FakeCredential, install

from finetui.core.azure.auth import build_credential, decode_claims, describe_identity

ENV = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
)


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `az` on the path
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "az"))


def test_no_credentials_device_code_prompt_reaches_callback(monkeypatch, no_credentials):
    login = FakeLogin()
    transport = install(monkeypatch, login)
    prompts = []
    chain = build_credential(lambda url, code, expires: prompts.append((url, code, expires)), transport=transport)
    who = describe_identity(chain)
    assert prompts and prompts[0][:2] == (VERIFY_URL, USER_CODE)
    assert who == {
        "credential": "device code",
        "tenant_id": "11111111-2222-3333-4444-555555555555",
        "object_id": "99999999-8888-7777-6666-555555555555",
        "user": "ana@contoso.example",
    }
    assert [f.split(":")[0] for f in chain.failures] == ["Azure CLI", "environment", "managed identity"]
    # the browser is never involved: only the device-code endpoints were used
    assert not any("authorize" in s for s in login.seen)


@pytest.fixture
def silent_imds(monkeypatch):
    """A server on 127.0.0.1 that accepts connections and never answers, standing in for IMDS."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{server.getsockname()[1]}")
    yield held
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_hanging_managed_identity_is_cut_short(monkeypatch, no_credentials, silent_imds):
    login = FakeLogin()
    install(monkeypatch, login, passthrough_hosts=("127.0.0.1",))  # IMDS reaches the real silent socket
    prompts = []
    chain = build_credential(lambda url, code, expires: prompts.append(code), managed_identity_timeout=1.0)
    start = time.monotonic()
    token = chain.get_token("https://management.azure.com/.default")
    elapsed = time.monotonic() - start
    assert elapsed < 5, f"sign-in took {elapsed:.1f} s"
    assert silent_imds, "the managed-identity request never reached the silent endpoint"
    assert chain.used == "device code" and prompts == [USER_CODE]
    # cut short by its read timeout, or failing that by our deadline around it
    assert any(f.startswith("managed identity:") for f in chain.failures), chain.failures
    assert decode_claims(token.token)["tid"] == "11111111-2222-3333-4444-555555555555"


def test_whoami_names_credential_and_workspace(backend):
    who = backend.whoami()
    assert who["credential"] == "FakeCredential" and who["user"] == "ana@contoso.example"
    assert (who["subscription_id"], who["resource_group"], who["workspace_name"]) == (
        "00000000-0000-0000-0000-000000000000",
        "rg1",
        "ws1",
    )


def test_decode_claims_tolerates_garbage():
    assert decode_claims("not-a-jwt") == {}
    assert decode_claims(FakeCredential().get_token("https://ml.azure.com/.default").token)["aud"] == "https://ml.azure.com"
