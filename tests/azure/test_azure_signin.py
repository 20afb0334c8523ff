"""Item 5 of issue 12: a configured credential that fails for good stops the sign-in with its own message,
and a device code is offered only where someone can answer it."""

from __future__ import annotations

import time

import pytest

SECRET = "not-a-real-secret"


@pytest.mark.parametrize(
    "code,text,what,fix",
    [
        (
            "7000215",
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            "value, not the client secret ID",
            "the client secret is wrong",
            "set AZURE_CLIENT_SECRET to the secret's value",
        ),
        (
            "90002",
            "Tenant '11111111-2222-3333-4444-555555555555' not found.",
            "the tenant does not exist",
            "check AZURE_TENANT_ID",
        ),
        (
            "700016",
            "Application with identifier '22222222-0000-0000-0000-000000000000' was not found in the directory.",
            "there is no app with this client ID in the tenant",
            "check AZURE_CLIENT_ID and AZURE_TENANT_ID",
        ),
        (
            "700027",
            "Client assertion failed signature validation: the certificate has expired.",
            "the client certificate is not valid",
            "upload a current certificate",
        ),
    ],
)
def test_definitive_failure_stops_the_chain(azure_cli, code, text, what, fix):
    azure_cli.login.client_error = (code, text)
    started = time.monotonic()
    proc = azure_cli.run("azure", "whoami")
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith(
        "error: could not sign in to Azure with the environment's service principal "
        "(AZURE_CLIENT_ID 22222222-0000-0000-0000-000000000000, tenant 11111111-2222-3333-4444-555555555555): "
        f"{what}"
    )
    assert f"(AADSTS{code})" in line and fix in line and "unset AZURE_CLIENT_ID" in line
    assert SECRET not in proc.stdout + proc.stderr
    # nothing after it was tried: no managed identity, no device code
    assert not [s for s in azure_cli.login.seen if "devicecode" in s or "/metadata/identity" in s]
    assert time.monotonic() - started < 120


def test_no_terminal_means_no_device_code_and_no_wait(azure_cli):
    env = {k: v for k, v in azure_cli.env.items() if not k.startswith("AZURE_CLIENT") and k != "AZURE_TENANT_ID"}
    from azure_server import finetui_azure

    proc = finetui_azure(azure_cli.cwd, env, "azure", "whoami")  # stdin is a pipe, not a terminal
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: could not sign in to Azure: no credential is configured here (")
    assert "device-code sign-in needs a terminal on stdin, and this has none" in line
    assert "run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET" in line
    assert not [s for s in azure_cli.login.seen if "devicecode" in s]


def test_messages_are_cut_between_words():
    from finetui.core.azure.client import first_line

    text = "word " * 200
    cut = first_line(text, 50)
    assert len(cut) <= 50 and cut.endswith(" …") and cut[:-2].split() == ["word"] * len(cut[:-2].split())


def test_terminal_on_stdin_gets_the_device_code(azure_cli):
    import os
    import pty
    import subprocess
    import sys

    from azure_login import USER_CODE, VERIFY_URL

    env = {k: v for k, v in azure_cli.env.items() if not k.startswith("AZURE_CLIENT") and k != "AZURE_TENANT_ID"}
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "finetui.tui.cli.main", "--backend", "azure", "azure", "whoami", "--json"],
            stdin=terminal,
            capture_output=True,
            text=True,
            env=env,
            cwd=azure_cli.cwd,
            timeout=300,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 0, proc.stderr
    assert f"To sign in to Azure, open {VERIFY_URL} and enter the code {USER_CODE}" in proc.stderr
    assert '"credential": "device code"' in proc.stdout
