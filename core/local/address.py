"""A local server's address: the host to bind and to connect to, a free port, whether it listens and answers."""

from __future__ import annotations

import http.client
import socket


def connect_host(host: str) -> str:
    """Where to connect to reach a server bound to ``host`` (a wildcard bind answers on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def url_host(host: str) -> str:
    h = connect_host(host)
    return f"[{h}]" if ":" in h else h


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((connect_host(host), port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(host: str, port: int, path: str, timeout: float = 1.0) -> int | None:
    """The status of a plain GET, or None when nothing answers."""
    conn = http.client.HTTPConnection(connect_host(host), port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()
