"""A fake Microsoft identity platform: IMDS says "no identity", device code signs in at once."""

from __future__ import annotations

import base64
import json
import time

from azure_replay import OID, TENANT, FakeRequest, make_jwt

DEVICE_CODE = "FAKE-DEVICE-CODE"
USER_CODE = "ABCD-EFGH"
VERIFY_URL = "https://microsoft.com/devicelogin"


def _json(body, status=200):
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class FakeLogin:
    def __init__(self, upn: str = "ana@contoso.example") -> None:
        self.upn = upn
        self.seen: list[str] = []
        self.client_error: tuple[str, str] | None = None  # (AADSTS code, description) for client-credential sign-ins

    def __call__(self, req: FakeRequest):
        self.seen.append(f"{req.method} {req.host}{req.path}")
        path = req.path
        if path.startswith("/metadata/identity/oauth2/token"):
            return _json({"error": "invalid_request", "error_description": "Identity not found"}, 400)
        if path.endswith("/discovery/instance"):
            return _json(
                {
                    "tenant_discovery_endpoint": "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
                    "api-version": "1.1",
                    "metadata": [],
                }
            )
        if path.endswith("/.well-known/openid-configuration"):
            base = "https://login.microsoftonline.com/" + path.strip("/").split("/")[0]
            return _json(
                {
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
                    "tenant_region_scope": None,
                }
            )
        if path.endswith("/oauth2/v2.0/devicecode"):
            return _json(
                {
                    "user_code": USER_CODE,
                    "device_code": DEVICE_CODE,
                    "verification_uri": VERIFY_URL,
                    "expires_in": 900,
                    "interval": 1,
                    "message": f"To sign in, use a web browser to open the page {VERIFY_URL} and enter the code {USER_CODE}",
                }
            )
        if path.endswith("/oauth2/v2.0/token"):
            now = int(time.time())
            from urllib.parse import parse_qsl

            form = dict(parse_qsl(req.body.decode()))
            if self.client_error and form.get("grant_type") == "client_credentials":
                code, text = self.client_error  # Entra's error shape for a bad client secret, tenant or app
                status, kind = (400, "invalid_request") if code in ("90002", "900023") else (401, "invalid_client")
                return _json(
                    {
                        "error": kind,
                        "error_description": f"AADSTS{code}: {text} Trace ID: 0 Correlation ID: 0",
                        "error_codes": [int(code)],
                        "timestamp": "2026-01-01 00:00:00Z",
                    },
                    status,
                )
            scope = form.get("scope", "").split()[0] if form.get("scope") else "https://management.azure.com/.default"
            claims = {
                "aud": scope.removesuffix("/.default"),
                "tid": TENANT,
                "oid": OID,
                "upn": self.upn,
                "iat": now,
                "nbf": now,
                "exp": now + 3600,
            }
            id_claims = {
                "aud": form.get("client_id", ""),
                "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
                "tid": TENANT,
                "oid": OID,
                "preferred_username": self.upn,
                "sub": "s",
                "iat": now,
                "nbf": now,
                "exp": now + 3600,
                "ver": "2.0",
            }
            client_info = base64.urlsafe_b64encode(json.dumps({"uid": OID, "utid": TENANT}).encode()).decode().rstrip("=")
            return _json(
                {
                    "token_type": "Bearer",
                    "scope": "https://management.azure.com/.default",
                    "expires_in": 3600,
                    "ext_expires_in": 3600,
                    "access_token": make_jwt(claims),
                    "refresh_token": "fake-refresh",
                    "id_token": make_jwt(id_claims),
                    "client_info": client_info,
                }
            )
        return _json({"error": "not_found", "error_description": f"fake login has no {path}"}, 404)
