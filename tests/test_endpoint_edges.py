"""A real endpoint under hostile and heavy input: sampling edge values, big prompts, a full queue,
slow and vanishing clients, malformed bodies, oversized bodies, unknown routes, and its logs.

One server process (module fixture) with a small queue and a short read timeout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from finetui.core.endpoint_options import LocalEndpointOptions

from serve_model import build_tiny_phi3, serving_backend
from waiting import wait_for


pytestmark = pytest.mark.slow  # starts a server process (shared by the module)

NAME = "ep-edges"
USER = [{"role": "user", "content": "hello there"}]
READ_TIMEOUT_S = 2.0
MAX_QUEUE = 2


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    # wide enough that 18 answers of 1000 tokens are still generating while the queue test looks
    model = build_tiny_phi3(tmp_path_factory.mktemp("models") / "tiny", hidden=256, layers=4)
    with serving_backend(tmp_path_factory.mktemp("ws"), model) as b:
        yield b


@pytest.fixture(scope="module")
def live(backend):
    return backend.endpoints.create(NAME, "tiny-chat", LocalEndpointOptions(max_queue=MAX_QUEUE, read_timeout_s=READ_TIMEOUT_S))


@pytest.fixture(scope="module")
def key(backend, live):
    return backend.endpoints.keys(NAME).primary


def auth(k):
    return {"Authorization": f"Bearer {k}"}


def base(live):
    return live.base_url.rsplit("/", 1)[0]


def address(live):
    host, port = base(live).split("//")[1].split(":")
    return host, int(port)


def metric(live, key, name: str) -> float:
    text = httpx.get(f"{base(live)}/metrics", headers=auth(key), timeout=30).text
    return float(next(line for line in text.splitlines() if line.startswith(name)).split()[-1])


def test_a_hostile_temperature_among_concurrent_requests_does_not_fail_the_others(live, key):
    url = f"{live.base_url}/chat/completions"
    greedy = {"messages": USER, "max_tokens": 12, "temperature": 0}
    bodies = [
        greedy,
        {**greedy, "temperature": 1e-46},
        {**greedy, "temperature": 1e-38},
        {**greedy, "temperature": 0.8, "seed": 3},
        {**greedy, "temperature": 1.5, "top_p": 0.5},
        greedy,
    ]
    start = threading.Barrier(len(bodies))

    def post(body):
        start.wait()  # sent together, so the engine batches them
        return httpx.post(url, json=body, headers=auth(key), timeout=120)

    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(post, bodies))
    assert [a.status_code for a in answers] == [200] * len(bodies), [a.text for a in answers]
    texts = [a.json()["choices"][0]["message"]["content"] for a in answers]
    # a temperature too small to divide by is the likeliest token, as greedy decoding picks it
    assert texts[1] == texts[2] == texts[0] == texts[5]


def test_health_answers_while_big_prompts_are_tokenized(live, key):
    url = f"{live.base_url}/chat/completions"
    big = json.dumps({"messages": [{"role": "user", "content": "word " * 180_000}], "max_tokens": 4}).encode()
    assert len(big) < 1 << 20
    done = threading.Event()
    slowest = [0.0]

    def probe():
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                t0 = time.monotonic()
                assert client.get(f"{base(live)}/health").status_code == 200
                slowest[0] = max(slowest[0], time.monotonic() - t0)
                time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda _: httpx.post(
                        url, content=big, headers={**auth(key), "Content-Type": "application/json"}, timeout=300
                    ),
                    range(8),
                )
            )
    finally:
        done.set()
        prober.join()
    assert [a.status_code for a in answers] == [400] * 8
    assert "the model's context is 1024" in answers[0].json()["error"]["message"]
    # each prompt takes over a second to tokenize; on the event loop, eight of them stalled /health for ~10 s
    assert slowest[0] < 3.0, f"/health took {slowest[0]:.2f} s while prompts were tokenized"


def test_a_full_queue_answers_429_with_retry_after_and_metrics_show_it(live, key):
    url = f"{live.base_url}/chat/completions"
    long = {"messages": USER, "max_tokens": 1000, "temperature": 0, "stream": True}
    capacity = 16 + MAX_QUEUE  # the engine's batch plus the queue
    with httpx.Client(timeout=60, headers=auth(key)) as client, contextlib.ExitStack() as streams:
        for _ in range(capacity):
            assert streams.enter_context(client.stream("POST", url, json=long)).status_code == 200
        refused = client.post(url, json={**long, "stream": False})
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "1"
        assert "queue" in refused.json()["error"]["message"]
        assert metric(live, key, "finetui_queue_depth") == MAX_QUEUE
        assert metric(live, key, "finetui_queue_rejections_total") >= 1
    # the streams' generations stop when their clients go: the queue empties and requests are taken again
    wait_for(lambda: metric(live, key, "finetui_queue_depth") == 0, 60, "the queue to empty")
    ok = httpx.post(url, json={"messages": USER, "max_tokens": 2}, headers=auth(key), timeout=60)
    assert ok.status_code == 200


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_a_connection_that_never_finishes_its_headers_is_closed(live):
    with socket.create_connection(address(live), timeout=30) as sock:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        t0 = time.monotonic()
        assert read_until_closed(sock, timeout=60) == b""  # closed without an answer; never a hang
        assert time.monotonic() - t0 >= READ_TIMEOUT_S * 0.5
    with socket.create_connection(address(live), timeout=30) as sock:  # one that sends nothing at all
        assert read_until_closed(sock, timeout=60) == b""


def _score_head(key: str, length: int) -> bytes:
    """The head of an authorised JSON ``POST /score`` that promises a ``length``-byte body."""
    return (
        f"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_body_that_trickles_past_the_read_timeout_gets_408(live, key):
    with socket.create_connection(address(live), timeout=30) as sock:
        sock.sendall(_score_head(key, 200) + b'{"input_data": ')
        reply = read_until_closed(sock, timeout=60)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"read timeout" in reply


def test_a_client_that_hangs_up_mid_body_leaves_no_traceback(backend, live, key):
    with socket.create_connection(address(live), timeout=30) as sock:
        sock.sendall(_score_head(key, 5000) + b'{"input_data": {"input_string": [')
    folder = backend.paths.endpoint_dir(NAME)
    wait_for(lambda: "POST /score 499" in (folder / "requests.log").read_text(), 60, "the request to be logged")
    server_log = (folder / "server.log").read_text()
    assert "Traceback" not in server_log and " 500" not in server_log


@pytest.mark.parametrize(
    "body, needle",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (
            json.dumps({"messages": [{"role": "user", "content": "bad \ud800 text"}]}).encode(),
            "messages[0].content: invalid text: lone surrogate U+D800 at character 4",
        ),
        (json.dumps({"messages": USER, "stop": ["\udfff"]}).encode(), "stop: invalid text: lone surrogate U+DFFF"),
    ],
    ids=["deep", "surrogate-content", "surrogate-stop"],
)
def test_malformed_bodies_get_a_400_json_error(live, key, body, needle):
    r = httpx.post(
        f"{live.base_url}/chat/completions", content=body, headers={**auth(key), "Content-Type": "application/json"}, timeout=60
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert needle in r.json()["error"]["message"]


def test_unknown_routes_and_methods_answer_in_the_error_shape(live, key):
    missing = httpx.get(f"{base(live)}/nowhere", headers=auth(key), timeout=30)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "no route /nowhere", "type": "invalid_request_error", "code": "not_found"}}
    wrong = httpx.get(live.scoring_uri, headers=auth(key), timeout=30)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["message"] == "GET is not allowed on /score"


def test_an_oversized_body_sent_whole_before_reading_still_gets_its_413(live, key):
    body = b'{"input_data": "' + b"x" * (8 << 20) + b'"}'
    request = urllib.request.Request(
        live.scoring_uri, data=body, method="POST", headers={**auth(key), "Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert "the limit is 1048576" in json.loads(refused.value.read())["error"]["message"]


def test_request_lines_go_to_a_compact_rotated_log_and_the_server_log_stays_quiet(backend, live, key):
    httpx.post(
        live.scoring_uri,
        json={"input_data": {"input_string": USER, "parameters": {"max_new_tokens": 2}}},
        headers=auth(key),
        timeout=60,
    )
    folder = backend.paths.endpoint_dir(NAME)
    wait_for(lambda: "POST /score 200" in (folder / "requests.log").read_text(), 30, "the request line")
    server_log = (folder / "server.log").read_text()
    assert "POST /score 200" not in server_log and "GET /health" not in server_log
    assert "FutureWarning" not in server_log and "Traceback" not in server_log
    line = next(x for x in (folder / "requests.log").read_text().splitlines() if "POST /score 200" in x)
    assert len(line) < 80 and key not in (folder / "requests.log").read_text()


def test_the_request_log_is_size_capped(tmp_path):
    from finetui.core.local.serve.__main__ import REQUEST_LOG_BACKUPS, REQUEST_LOG_BYTES, log_requests_to

    requests = logging.getLogger("finetui.serve.requests")
    before = list(requests.handlers)
    log_requests_to(tmp_path / "requests.log")
    try:
        for i in range(40_000):
            requests.info("POST /v1/chat/completions 200 %dms", i)
    finally:
        for handler in requests.handlers[len(before) :]:
            handler.close()
            requests.removeHandler(handler)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["requests.log"] + [f"requests.log.{i}" for i in range(1, REQUEST_LOG_BACKUPS + 1)]
    assert all((tmp_path / f).stat().st_size <= REQUEST_LOG_BYTES for f in files)
