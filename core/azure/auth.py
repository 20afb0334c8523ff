"""Sign-in that works over SSH: no browser, and nothing that can hang for minutes.

The chain is Azure CLI, environment variables, managed identity (bounded by a
short deadline: an IMDS endpoint that accepts a connection and never answers
would otherwise hold ``DefaultAzureCredential`` for about 300 s), then the
device-code flow, whose URL and code go to a callback the app or CLI shows.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Callable

from ..errors import AuthError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken

DeviceCodeCallback = Callable[[str, str, Any], None]  # (verification url, user code, expires_on)

MANAGEMENT_SCOPE = "https://management.azure.com/.default"


def decode_claims(token: str) -> dict[str, Any]:
    """The JWT's payload without verifying it: we only read who we are, never trust it."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload.encode()))
        return claims
    except (IndexError, ValueError):
        return {}


class _Deadline:
    """Give a credential ``timeout`` seconds per token, then call it unavailable."""

    def __init__(self, inner: Any, timeout: float, label: str) -> None:
        self.inner = inner
        self.timeout = timeout
        self.label = label

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
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
        token: AccessToken = box["token"]
        return token


# Microsoft Entra answers that no retry or other credential can fix: what is wrong, how to fix it.
_DEFINITIVE = {
    "7000215": ("the client secret is wrong", "set AZURE_CLIENT_SECRET to the secret's value (not its ID)"),
    "7000222": ("the client secret has expired", "create a new secret for the app and set AZURE_CLIENT_SECRET"),
    "700016": ("there is no app with this client ID in the tenant", "check AZURE_CLIENT_ID and AZURE_TENANT_ID"),
    "90002": ("the tenant does not exist", "check AZURE_TENANT_ID"),
    "900023": ("the tenant ID is not valid", "check AZURE_TENANT_ID"),
    "700027": (
        "the client certificate is not valid (expired or not registered with the app)",
        "upload a current certificate to the app and point AZURE_CLIENT_CERTIFICATE_PATH at it",
    ),
    "700024": ("the client assertion is outside its valid time range (expired)", "renew the credential"),
    "50173": ("the sign-in has expired (password changed or session revoked)", "sign in again"),
    "70043": ("the sign-in has expired", "sign in again"),
}
_CODE = re.compile(r"AADSTS(\d+)")


def definitive_failure(label: str, exc: BaseException) -> AuthError | None:
    """A configured credential that failed for good (its own message, what to fix), or None to try the next."""
    from azure.identity import CredentialUnavailableError

    if isinstance(exc, CredentialUnavailableError):
        return None  # not configured here: the chain goes on
    m = _CODE.search(str(exc))
    if m is None or m.group(1) not in _DEFINITIVE:
        return None
    what, fix = _DEFINITIVE[m.group(1)]
    if label == "environment":
        client, tenant = os.environ.get("AZURE_CLIENT_ID", "?"), os.environ.get("AZURE_TENANT_ID", "?")
        whose = f"the environment's service principal (AZURE_CLIENT_ID {client}, tenant {tenant})"
        fix += ", or unset AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET to sign in another way"
    elif label == "Azure CLI":
        whose, fix = "the Azure CLI sign-in", "run `az login`" + ("" if fix == "sign in again" else f"; {fix}")
    else:
        whose = label
    return AuthError(f"could not sign in to Azure with {whose}: {what} (AADSTS{m.group(1)})", hint=fix)


class SignInChain:
    """Try each credential in order; remember which one worked and why the others did not.

    A credential that is configured but fails for good (a wrong secret, an unknown tenant)
    stops the chain with its own message: falling through to a device-code prompt would
    hide the real problem behind a sign-in the user never asked for.
    """

    def __init__(self, credentials: list[tuple[str, Any]], no_device_code: str | None = None) -> None:
        self.credentials = credentials
        self.no_device_code = no_device_code  # why device-code sign-in is not offered, if it is not
        self.used: str | None = None
        self._winner: Any = None
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError

        if self._winner is not None:
            won: AccessToken = self._winner.get_token(*scopes, **kwargs)
            return won
        with self._lock:
            if self._winner is not None:
                won = self._winner.get_token(*scopes, **kwargs)
                return won
            self.failures = []
            for label, cred in self.credentials:
                try:
                    token: AccessToken = cred.get_token(*scopes, **kwargs)
                except Exception as exc:  # each credential fails in its own way; keep the first line
                    definitive = definitive_failure(label, exc)
                    if definitive is not None:
                        raise definitive from None
                    self.failures.append(
                        f"{label}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
                    )
                    continue
                self.used, self._winner = label, cred
                return token
        if self.no_device_code:
            raise AuthError(
                "could not sign in to Azure: no credential is configured here ("
                + "; ".join(self.failures)
                + f"); {self.no_device_code}",
                hint="run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET",
            )
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
    no_device_code: str | None = None,
) -> SignInChain:
    """The sign-in chain. ``transport`` reaches every HTTP-based credential (tests use it).

    ``no_device_code`` says why device-code sign-in is left out (nobody could answer it, e.g. a
    CLI without a terminal on stdin); the chain then ends with that reason instead of waiting.
    """
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
    mi = ManagedIdentityCredential(
        connection_timeout=managed_identity_timeout, read_timeout=managed_identity_timeout, retry_total=0, **extra
    )
    chain.append(("managed identity", _Deadline(mi, managed_identity_timeout + 1.0, "managed identity")))

    def prompt(url: str, code: str, expires_on: Any) -> None:
        if device_code_callback is not None:
            device_code_callback(url, code, expires_on)

    if no_device_code:
        return SignInChain(chain, no_device_code)
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
