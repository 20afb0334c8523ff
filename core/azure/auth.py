"""Sign-in that works over SSH: no browser, and nothing that can hang for minutes.

The chain is Azure CLI, environment variables, managed identity (bounded by a
short deadline: an IMDS endpoint that accepts a connection and never answers
would otherwise hold ``DefaultAzureCredential`` for about 300 s), then the
device-code flow, whose URL and code go to a callback the app or CLI shows.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any, Callable

DeviceCodeCallback = Callable[[str, str, Any], None]  # (verification url, user code, expires_on)

MANAGEMENT_SCOPE = "https://management.azure.com/.default"
ML_SCOPE = "https://ml.azure.com/.default"


def decode_claims(token: str) -> dict[str, Any]:
    """The JWT's payload without verifying it: we only read who we are, never trust it."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (IndexError, ValueError):
        return {}


class _Deadline:
    """Give a credential ``timeout`` seconds per token, then call it unavailable."""

    def __init__(self, inner: Any, timeout: float, label: str) -> None:
        self.inner = inner
        self.timeout = timeout
        self.label = label

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.identity import CredentialUnavailableError

        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["token"] = self.inner.get_token(*scopes, **kwargs)
            except BaseException as exc:  # handed back to the caller's thread
                box["error"] = exc

        # A daemon thread: a read that never returns must not keep the process alive.
        worker = threading.Thread(target=run, name=f"finetui-{self.label}", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise CredentialUnavailableError(f"{self.label}: no answer within {self.timeout:g} s")
        if "error" in box:
            raise box["error"]
        return box["token"]


class SignInChain:
    """Try each credential in order; remember which one worked and why the others did not."""

    def __init__(self, credentials: list[tuple[str, Any]]) -> None:
        self.credentials = credentials
        self.used: str | None = None
        self._winner: Any = None
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.exceptions import ClientAuthenticationError

        if self._winner is not None:
            return self._winner.get_token(*scopes, **kwargs)
        with self._lock:
            if self._winner is not None:
                return self._winner.get_token(*scopes, **kwargs)
            self.failures = []
            for label, cred in self.credentials:
                try:
                    token = cred.get_token(*scopes, **kwargs)
                except Exception as exc:  # each credential fails in its own way; keep the first line
                    self.failures.append(f"{label}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
                    continue
                self.used, self._winner = label, cred
                return token
        raise ClientAuthenticationError("no credential worked; " + "; ".join(self.failures))

    def close(self) -> None:
        for _, cred in self.credentials:
            close = getattr(cred, "close", None)
            if close:
                try:
                    close()
                except Exception:
                    pass


def build_credential(
    device_code_callback: DeviceCodeCallback | None = None,
    *,
    managed_identity_timeout: float = 3.0,
    transport: Any = None,
    tenant_id: str | None = None,
    include_cli: bool = True,
) -> SignInChain:
    """The sign-in chain. ``transport`` reaches every HTTP-based credential (tests use it)."""
    from azure.identity import (
        AzureCliCredential,
        DeviceCodeCredential,
        EnvironmentCredential,
        ManagedIdentityCredential,
    )

    extra: dict[str, Any] = {"transport": transport} if transport is not None else {}
    chain: list[tuple[str, Any]] = []
    if include_cli:
        chain.append(("Azure CLI", AzureCliCredential(process_timeout=15, tenant_id=tenant_id or "")))
    chain.append(("environment", EnvironmentCredential(**extra)))
    mi = ManagedIdentityCredential(connection_timeout=managed_identity_timeout, read_timeout=managed_identity_timeout,
                                   retry_total=0, **extra)
    chain.append(("managed identity", _Deadline(mi, managed_identity_timeout + 1.0, "managed identity")))

    def prompt(url: str, code: str, expires_on: Any) -> None:
        if device_code_callback is not None:
            device_code_callback(url, code, expires_on)

    device_kwargs: dict[str, Any] = dict(extra)
    if tenant_id:
        device_kwargs["tenant_id"] = tenant_id
    chain.append(("device code", DeviceCodeCredential(prompt_callback=prompt, timeout=900, **device_kwargs)))
    return SignInChain(chain)


def describe_identity(credential: Any, scope: str = MANAGEMENT_SCOPE) -> dict[str, Any]:
    """Which credential signed us in and as whom, read from the token's claims."""
    token = credential.get_token(scope).token
    claims = decode_claims(token)
    return {
        "credential": getattr(credential, "used", None) or type(credential).__name__,
        "tenant_id": claims.get("tid"),
        "object_id": claims.get("oid"),
        "user": claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username") or claims.get("appid"),
    }
