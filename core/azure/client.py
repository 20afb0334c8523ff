"""MLClient construction, a quiet SDK, retries and every Azure error mapping, in one place.

The rest of the Azure backend calls the SDK only through ``AzureClient.call``,
so whatever the SDK prints is captured, 429s are retried by azure-core's
retry policy (which honours Retry-After), and every exception that leaves is
one of core/errors.py with a message the user can act on.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, TextIO, TypeVar, overload

from ..errors import (
    AuthError,
    Conflict,
    FinetuiError,
    InvalidInput,
    NetworkUnavailable,
    NotFound,
    OperationFailed,
)

from .workspace import WorkspaceRef

T = TypeVar("T")
SDK_LOGGER = "azure"
OUTPUT_LOGGER = "finetui.azure.sdk"  # what the SDK printed, one record per call
ROLE_HINT = "ask an owner for the 'AzureML Data Scientist' role on the workspace"


# -- a quiet SDK -------------------------------------------------------------------
def route_sdk_logs(handler: logging.Handler | None, level: int = logging.WARNING) -> None:
    """Send the ``azure`` loggers to ``handler`` (the app's pane, the CLI's stderr) and nowhere else."""
    logger = logging.getLogger(SDK_LOGGER)
    logger.setLevel(level)
    logger.propagate = False
    for old in [h for h in logger.handlers if getattr(h, "_finetui", False)]:
        logger.removeHandler(old)
    chosen = handler or logging.NullHandler()
    chosen._finetui = True  # type: ignore[attr-defined]
    logger.addHandler(chosen)
    # Each credential of the sign-in chain that does not apply logs a warning; that is the chain
    # working as meant, and auth.py reports which credential signed in.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    out = logging.getLogger(OUTPUT_LOGGER)
    out.setLevel(logging.INFO)  # what the SDK printed: the handler's own level decides what is shown
    out.propagate = False
    if chosen not in out.handlers:
        out.handlers = [h for h in out.handlers if not getattr(h, "_finetui", False)] + [chosen]


class _ThreadRouter:
    """Stands in for sys.stdout/stderr: writes from a thread inside ``quiet()`` go to that thread's
    buffer, every other write to the stream it wraps. A plain redirect_stdout would swap the stream
    for the whole process, so a 20-minute deployment wait would silence (or serialize) everything else."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        buf: io.StringIO | None = getattr(_captured, "buf", None)
        if buf is not None:
            return buf.write(text)
        if threading.current_thread().name.startswith("LROPoller("):
            return len(text)  # the SDK's polling thread prints a "." per poll: noise, and it would corrupt --json
        return self.target.write(text)

    def flush(self) -> None:
        if getattr(_captured, "buf", None) is None:
            self.target.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, buffer, fileno, isatty ... of the real stream
        return getattr(self.target, name)


# The SDK's first import warns (marshmallow deprecations) from its own modules: never worth a user's screen.
_SDK_WARNINGS = r"(azure|marshmallow|msal|opentelemetry)(\.|$)"


def _ignore_sdk_warnings() -> None:
    if not any(f[0] == "ignore" and getattr(f[3], "pattern", None) == _SDK_WARNINGS for f in warnings.filters):
        warnings.filterwarnings("ignore", module=_SDK_WARNINGS)


_captured = threading.local()
_install_lock = threading.Lock()


def _route(name: str) -> None:
    with _install_lock:
        current = getattr(sys, name)
        if not isinstance(current, _ThreadRouter):
            setattr(sys, name, _ThreadRouter(current))


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Capture what the SDK prints (and the warnings it shows) in this thread during one call; log it instead."""
    if getattr(_captured, "buf", None) is not None:  # nested: the outer call collects
        yield
        return
    _route("stdout")
    _route("stderr")  # other warnings are shown on stderr, so they are caught here too
    _ignore_sdk_warnings()
    _captured.buf = buf = io.StringIO()
    try:
        yield
    finally:
        _captured.buf = None
        text = buf.getvalue().strip()
        if text:
            logging.getLogger(OUTPUT_LOGGER).info("%s", text)


# -- error mapping -------------------------------------------------------------------
def _service_error(exc: Any) -> tuple[str | None, str]:
    """The service's own error code and message, from an HttpResponseError or its body."""
    code, message = None, ""
    error = getattr(exc, "error", None)
    if error is not None:
        code = getattr(error, "code", None)
        message = getattr(error, "message", None) or ""
    response = getattr(exc, "response", None)
    if response is not None and (not code or not message):
        try:
            body = json.loads(response.text())
            err = body.get("error", body) if isinstance(body, dict) else {}
            code = code or err.get("code")
            message = message or err.get("message") or ""
        except Exception:
            pass
    details = getattr(error, "details", None) if error is not None else None
    for detail in details or []:
        extra = getattr(detail, "message", None)
        if extra and extra not in message:
            message = f"{message} ({extra})" if message else extra
    if not message:
        message = str(getattr(exc, "message", None) or exc)
    message = " ".join(message.split())
    # MFE prefixes messages with the full resource id ("key: /subscriptions/..., Message: ..."): keep the message
    m = re.match(r"^key: \S+, Message: (.*)$", message)
    return code, m.group(1) if m else message


def first_line(text: str, limit: int = 400) -> str:
    """One line of at most ``limit`` characters, cut between words."""
    import textwrap

    return textwrap.shorten(str(text), width=limit, placeholder=" …")


@dataclass
class CallContext:
    """What a call was about, so an error can say what is missing or which permission is needed."""

    what: str  # "model Phi-3-mini-4k-instruct", "compute gpu-cluster"
    where: str  # "workspace ws1 (...)" or "registry azureml"
    action: str = "read"  # read, create, delete, invoke
    sku: str | None = None  # instance type of a deployment, for quota errors


def map_error(
    exc: BaseException, ctx: CallContext, credential_label: str | None = None, scope: str | None = None
) -> FinetuiError:
    """Turn whatever the SDK or azure-core raised into one of our errors, with a message to act on."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, FinetuiError):
        return exc
    who = credential_label or "the signed-in identity"
    status = getattr(exc, "status_code", None)
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return AuthError(
            f"could not sign in to Azure: {first_line(str(exc))}",
            hint="run `az login`, set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or finish the device-code sign-in",
        )
    if isinstance(exc, HttpResponseError) or status is not None:
        code, message = _service_error(exc)
        if status == 401:
            return AuthError(
                f"Azure rejected the token from {who} for scope {scope or 'https://management.azure.com/.default'} "
                f"while trying to {ctx.action} {ctx.what} in {ctx.where}: {first_line(message, 200)}",
                hint="sign in again (`az login`), in the workspace's tenant",
            )
        if status == 403:
            return AuthError(
                f"{who} may not {ctx.action} {ctx.what} in {ctx.where} (403 {code or 'Forbidden'}): {first_line(message, 200)}",
                hint=ROLE_HINT,
            )
        if status == 404 or isinstance(exc, ResourceNotFoundError):
            if ctx.action in ("read", "open", "delete", "cancel", "invoke", "update"):
                return NotFound(f"{ctx.what} not found in {ctx.where}: {first_line(message, 300)}")
            # a 404 while creating something means what it refers to is missing
            return NotFound(
                f"cannot {ctx.action} {ctx.what} in {ctx.where}: something it refers to was not found: {first_line(message, 300)}"
            )
        if status == 409 or isinstance(exc, ResourceExistsError):
            return Conflict(f"{ctx.what} in {ctx.where}: {first_line(message, 200)}")
        if status == 429:
            retry_after = None
            response = getattr(exc, "response", None)
            if response is not None:
                retry_after = response.headers.get("Retry-After")
            wait = f" after {retry_after} s" if retry_after else " in a minute"
            return OperationFailed(
                f"Azure is throttling requests (429) to {ctx.action} {ctx.what} in {ctx.where}; "
                f"still refused after retrying — try again{wait}"
            )
        if _is_quota(code, message):
            sku = f" for {ctx.sku}" if ctx.sku else ""
            return OperationFailed(
                f"not enough quota{sku} to {ctx.action} {ctx.what} in {ctx.where}: {first_line(message, 300)}",
                hint="request a quota increase for that VM family in the Azure portal (Quotas), or pick another instance type",
            )
        if status is not None and 400 <= status < 500:
            return InvalidInput(
                f"Azure refused to {ctx.action} {ctx.what} in {ctx.where} ({status} {code or ''}): "
                f"{first_line(message, 300)}".replace(" )", ")")
            )
        if status is not None:
            return OperationFailed(
                f"Azure failed to {ctx.action} {ctx.what} in {ctx.where} ({status}): {first_line(message, 300)}"
            )
        # an LRO that ended Failed: azure-core raises HttpResponseError with the service's message and no status
        return OperationFailed(f"{ctx.action} {ctx.what} failed in {ctx.where}: {first_line(message, 300)}")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, ConnectionError)):
        return NetworkUnavailable(f"could not reach Azure to {ctx.action} {ctx.what}: {first_line(str(exc), 200)}")
    name = type(exc).__name__
    text = first_line(getattr(exc, "message", None) or str(exc), 300)
    if "AAD token with aml scope" in text:  # job submission also needs a token for Azure ML itself
        return AuthError(
            f"{who} could not get a token for https://ml.azure.com/.default, needed to {ctx.action} {ctx.what}",
            hint="sign in with an identity that can use Azure Machine Learning in this tenant",
        )
    if name == "ValidationException" and ("does not exist" in text or "not found" in text.lower()):
        return NotFound(f"{ctx.what} not found in {ctx.where}: {text}")
    if name in ("ValidationException", "UserErrorException", "ValidationError"):
        return InvalidInput(f"{ctx.what}: {text}")
    return OperationFailed(f"{ctx.action} {ctx.what} in {ctx.where} failed: {text or name}")


def _is_quota(code: str | None, message: str) -> bool:
    text = f"{code or ''} {message}".lower()
    return "quota" in text or "outofcapacity" in text or "skunotavailable" in text


# -- the client ------------------------------------------------------------------------
class AzureClient:
    """The workspace MLClient and the ``azureml`` registry MLClient, each built on first use."""

    def __init__(
        self,
        workspace: WorkspaceRef,
        credential: Any,
        *,
        registry_name: str = "azureml",
        transport: Any = None,
        retry_total: int = 4,
        retry_backoff_factor: float = 0.8,
    ) -> None:
        self.workspace = workspace
        self.credential = credential
        self.registry_name = registry_name
        self._kwargs: dict[str, Any] = {
            "show_progress": False,
            "enable_telemetry": False,
            "retry_total": retry_total,
            "retry_status": retry_total,  # 429 and 5xx count here; its default (3) would cap retry_total
            "retry_backoff_factor": retry_backoff_factor,
        }
        if transport is not None:
            self._kwargs["transport"] = transport
        self._ws_client: Any = None
        self._registry_client: Any = None
        self._lock = threading.Lock()

    @property
    def transport(self) -> Any:
        """The transport the SDK was given (tests route it to a fake), for clients built beside the SDK's."""
        return self._kwargs.get("transport")

    @property
    def credential_label(self) -> str | None:
        return getattr(self.credential, "used", None) or (type(self.credential).__name__ if self.credential else None)

    def where(self) -> str:
        return self.workspace.describe()

    def registry_where(self) -> str:
        return f"registry {self.registry_name}"

    @property
    def ws(self) -> Any:
        if self._ws_client is None:
            with self._lock, quiet():
                if self._ws_client is None:
                    from azure.ai.ml import MLClient

                    self._ws_client = MLClient(
                        self.credential,
                        subscription_id=self.workspace.subscription_id,
                        resource_group_name=self.workspace.resource_group,
                        workspace_name=self.workspace.workspace_name,
                        **self._kwargs,
                    )
        return self._ws_client

    @property
    def azureml_registry(self) -> Any:
        """The MLClient of the Azure ML registry (``azureml`` by default), not a model registry of ours.

        Its constructor makes a discovery HTTP call: callers run this off the UI thread."""
        if self._registry_client is None:
            ctx = CallContext(f"registry {self.registry_name}", "Azure ML registry discovery", "open")
            with self._lock:
                if self._registry_client is None:
                    try:
                        with quiet():
                            from azure.ai.ml import MLClient

                            self._registry_client = MLClient(self.credential, registry_name=self.registry_name, **self._kwargs)
                    except Exception as exc:
                        raise map_error(exc, ctx, self.credential_label) from None
        return self._registry_client

    def call(self, fn: Callable[[], T], ctx: CallContext) -> T:
        """Run one SDK call quietly; any failure leaves as a FinetuiError."""
        try:
            with quiet():
                return fn()
        except FinetuiError:
            raise
        except Exception as exc:
            raise map_error(exc, ctx, self.credential_label) from None

    @overload
    def rest_get(
        self, url: str, ctx: CallContext, scope: str | None = None, *, refusal_ok: Literal[False] = False
    ) -> dict[str, Any]: ...
    @overload
    def rest_get(self, url: str, ctx: CallContext, scope: str | None = None, *, refusal_ok: bool) -> dict[str, Any] | None: ...
    def rest_get(
        self, url: str, ctx: CallContext, scope: str | None = None, *, refusal_ok: bool = False
    ) -> dict[str, Any] | None:
        """GET one Azure REST resource the SDK has no call for (Azure Monitor's metrics, the MLflow tracking
        server), as JSON.

        It goes through the workspace MLClient's own pipeline, so the transport, the retry policy
        (429/5xx, Retry-After) and the error mapping are the SDK calls' own. A status of 400 or more
        (after the retries) leaves as the mapped FinetuiError (404: NotFound); with ``refusal_ok`` it is
        logged as a warning instead and the answer is None, for reads a view can do without. Failing to
        sign in or to reach Azure always raises."""
        from azure.core.exceptions import HttpResponseError

        from .auth import MANAGEMENT_SCOPE

        def fetch() -> Any:
            token = self.credential.get_token(scope or MANAGEMENT_SCOPE).token
            return self.ws.online_endpoints._requests_pipeline.get(url, headers={"Authorization": f"Bearer {token}"})

        response = self.call(fetch, ctx)
        if response.status_code >= 400:
            error = map_error(HttpResponseError(response=response), ctx, self.credential_label, scope)
            if not refusal_ok:
                raise error
            logging.getLogger(OUTPUT_LOGGER).warning("%s", error)
            return None
        data = self.call(lambda: json.loads(response.text() or "{}"), ctx)
        return data if isinstance(data, dict) else {}

    def ws_ctx(self, what: str, action: str = "read", **kw: Any) -> CallContext:
        return CallContext(what, self.where(), action, **kw)

    def reg_ctx(self, what: str, action: str = "read") -> CallContext:
        return CallContext(what, self.registry_where(), action)
