"""What each backend lets a user choose when creating an endpoint, as typed records.

A local endpoint is a server on this machine (address, idle shutdown); an Azure
managed online endpoint is a deployment on a VM size with probes. Options that
belong to the other backend are refused by name rather than ignored, so the core
never has to know a command line's calling convention.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .errors import InvalidInput

REQUEST_TIMEOUT_MS = 90000  # the tutorial's OnlineRequestSettings(request_timeout_ms=90000)


@dataclass(frozen=True)
class LocalEndpointOptions:
    host: str = "127.0.0.1"
    port: int | None = None
    request_timeout_ms: int = REQUEST_TIMEOUT_MS
    idle_timeout_s: float | None = None
    max_queue: int | None = None  # requests waiting beyond the generating batch; None: the server's default
    read_timeout_s: float | None = None  # for a request's headers and body; None: the server's default
    ttl_s: float | None = None  # the server stops itself this long after it was created
    wait: bool = True


def host_warning(host: str) -> str | None:
    """A warning when ``host`` exposes the endpoint beyond this machine."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host == "localhost":
            return None
    return f"host {host} is not loopback: anyone who can reach this machine and has a key can use the endpoint"


@dataclass(frozen=True)
class AzureEndpointOptions:
    """The tutorial's deployment: one Standard_NC6s_v3, "demo", a 600 s liveness delay, 90 s requests."""

    instance_type: str = "Standard_NC6s_v3"
    instance_count: int = 1
    deployment_name: str = "demo"
    request_timeout_ms: int = REQUEST_TIMEOUT_MS
    liveness_initial_delay_s: int = 600
    readiness_initial_delay_s: int | None = None  # None: the service's own default
    wait: bool = True
    check_allow_list: bool = True
    idle_timeout_s: float | None = None  # the ttl watcher deletes the endpoint after this long without requests

    def __post_init__(self) -> None:
        if not 1 <= self.instance_count <= 1000:
            raise InvalidInput(f"instance count {self.instance_count}: use 1..1000")
        if not 1 <= self.request_timeout_ms <= 180000:
            raise InvalidInput(f"request timeout {self.request_timeout_ms} ms: a managed endpoint allows 1..180000")
        for what, value in (("liveness", self.liveness_initial_delay_s), ("readiness", self.readiness_initial_delay_s)):
            if value is not None and not 0 <= value <= 3600:
                raise InvalidInput(f"{what} probe delay {value} s: use 0..3600")


# The options each backend does not take, by the name a user typed them under.
LOCAL_ONLY = {"host": "--host", "port": "--port", "max_queue": "--max-queue"}
AZURE_ONLY = {
    "instance_type": "--instance-type",
    "instance_count": "--instance-count",
    "deployment_name": "--deployment-name",
    "liveness_initial_delay_s": "--liveness-delay",
    "readiness_initial_delay_s": "--readiness-delay",
}


def refuse_foreign(backend: str, given: set[str]) -> None:
    """Refuse options that belong to the other backend, naming them and where they apply."""
    if backend == "azure":
        foreign, home = sorted(LOCAL_ONLY[k] for k in given if k in LOCAL_ONLY), "local"
        why = "Azure picks a managed endpoint's address, and it runs (and bills) until it is deleted"
    else:
        foreign, home = sorted(AZURE_ONLY[k] for k in given if k in AZURE_ONLY), "azure"
        why = "a local endpoint is one server on this machine"
    if foreign:
        raise InvalidInput(f"{', '.join(foreign)}: only for --backend {home} endpoints; {why}")
