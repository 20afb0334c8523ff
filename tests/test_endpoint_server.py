"""A real endpoint server on loopback, shared by this module: scoring, OpenAI streaming, auth, bad input, CLI.

One server process serves every test here (module fixture); tests run in
file order and the last ones regenerate a key and delete the endpoint.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import stat
import subprocess
import sys
import time

import httpx
import pytest

from cli_helpers import finetui, finetui_json
from serve_model import StandInRegistry, build_tiny_phi3, serving_backend

from finetui.core.chat import ChatClient, ChatParams
from finetui.core.errors import AuthError, InvalidInput, NotFound, OperationFailed
from finetui.core.local.endpoints import LocalEndpoints
from finetui.core.local.address import port_open
from finetui.core.models import EndpointState

pytestmark = pytest.mark.slow  # starts a server process (shared by the module)

NAME = "ep-main"
USER = [{"role": "user", "content": "Koji je glavni grad Hrvatske?"}]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_phi3(tmp_path_factory.mktemp("models") / "tiny-phi3")


@pytest.fixture(scope="module")
def backend(tmp_path_factory, tiny_model):
    with serving_backend(tmp_path_factory.mktemp("ws"), tiny_model) as b:
        yield b


@pytest.fixture(scope="module")
def live(backend):
    return backend.endpoints.create(NAME, "tiny-chat")


@pytest.fixture()
def key(backend, live):
    return backend.endpoints.keys(NAME).primary


def repl(ws, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with text on stdin (not a terminal), as a script would drive `finetui chat`."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    env.pop("FINETUI_WORKSPACE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(ws), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def auth(k):
    return {"Authorization": f"Bearer {k}"}


def root(ep):
    return ep.base_url.rsplit("/", 1)[0]


def test_create_records_a_running_endpoint_with_private_keys(backend, live):
    assert live.state is EndpointState.SUCCEEDED and live.model == "tiny-chat:1"
    assert live.scoring_uri.startswith("http://127.0.0.1:") and live.scoring_uri.endswith("/score")
    assert live.base_url.endswith("/v1") and live.openapi_uri.endswith("/openapi.json")
    keys_file = backend.paths.endpoint_dir(NAME) / "keys.json"
    assert stat.S_IMODE(os.stat(keys_file).st_mode) == 0o600
    keys = backend.endpoints.keys(NAME)
    assert keys.primary != keys.secondary and len(keys.primary) >= 40
    assert keys.primary not in repr(keys) and keys.primary not in repr(backend.get_endpoint(NAME))
    assert [e.name for e in backend.list_endpoints()] == [NAME]


def test_invoke_with_the_tutorials_sample_score_file(backend, live, tmp_path):
    # written exactly as the tutorial does: one conversation from the test split, the seed's parameters
    parameters = {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200}
    row = [
        {"role": "user", "content": "Write a haiku about Zagreb."},
        {"role": "assistant", "content": "Rain on red roofs"},
        {"role": "user", "content": "Another one, please."},
    ]
    test_json = {"input_data": {"input_string": [row], "parameters": parameters}, "params": {}}
    with open(tmp_path / "sample_score.json", "w") as f:
        json.dump(test_json, f)
    body = json.loads((tmp_path / "sample_score.json").read_text())
    response = backend.endpoints.invoke(NAME, body)
    assert set(response) == {"output"} and isinstance(response["output"], str)


def test_score_takes_a_flat_list_and_several_conversations(live, key):
    flat = {"input_data": {"input_string": USER, "parameters": {"do_sample": False, "max_new_tokens": 8}}}
    one = httpx.post(live.scoring_uri, json=flat, headers=auth(key), timeout=30)
    two = httpx.post(
        live.scoring_uri,
        headers=auth(key),
        timeout=30,
        json={
            "input_data": {
                "input_string": [USER, [{"role": "user", "content": "x"}]],
                "parameters": {"do_sample": False, "max_new_tokens": 8},
            }
        },
    )
    assert one.status_code == 200 and two.status_code == 200
    assert two.json()["output"] == one.json()["output"] == two.json()["outputs"][0]
    assert len(two.json()["outputs"]) == 2


def test_openai_client_streams_and_matches_the_whole_answer(live, key):
    from openai import OpenAI

    client = OpenAI(base_url=live.base_url, api_key=key, max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny-chat:1"]
    whole = client.chat.completions.create(model="tiny-chat", messages=USER, temperature=0, max_tokens=12)
    assert whole.object == "chat.completion" and whole.usage.completion_tokens <= 12
    chunks = list(
        client.chat.completions.create(
            model="tiny-chat", messages=USER, temperature=0, max_tokens=12, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text == whole.choices[0].message.content
    assert finals == [whole.choices[0].finish_reason] and finals[0] in ("stop", "length")
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_stop_strings_end_the_answer(live, key):
    from openai import OpenAI

    client = OpenAI(base_url=live.base_url, api_key=key, max_retries=0)
    full = client.chat.completions.create(model="m", messages=USER, temperature=0, max_tokens=24).choices[0].message.content
    at = next(i for i in range(1, len(full) - 2) if "\ufffd" not in full[i : i + 2])
    stop = full[at : at + 2]
    cut = client.chat.completions.create(model="m", messages=USER, temperature=0, max_tokens=24, stop=[stop])
    assert cut.choices[0].message.content == full[: full.find(stop)]
    assert cut.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    "headers, query",
    [
        ({}, ""),
        ({"Authorization": "Bearer wrong-key"}, ""),
        ({"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}, ""),  # another endpoint's key
        ({"Authorization": "Bearer "}, ""),
        ({"Authorization": "Bearer"}, ""),
        ({}, "?key={key}"),
        ({}, "?api_key={key}&code={key}"),
        ({"Authorization": "{key}"}, ""),
        ({"Authorization": "Basic {key}"}, ""),
    ],
)
def test_requests_without_the_right_bearer_key_get_401(live, key, headers, query):
    headers = {k: v.format(key=key) for k, v in headers.items()}
    if headers.get("Authorization") == "Bearer ":  # httpx refuses to send this; http.client does not
        host, port = live.scoring_uri.split("//")[1].split("/")[0].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/score", body=b"{}", headers={"Authorization": "Bearer ", "Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 401 and json.loads(reply.read())["error"]["message"] == "Unauthorized"
        conn.close()
        return
    for url in (live.scoring_uri, f"{live.base_url}/chat/completions", f"{live.base_url}/models", f"{root(live)}/metrics"):
        r = (
            httpx.post(url + query.format(key=key), json={"messages": USER}, headers=headers, timeout=10)
            if "models" not in url and "metrics" not in url
            else httpx.get(url + query.format(key=key), headers=headers, timeout=10)
        )
        assert r.status_code == 401, url
        assert r.json() == {"error": {"message": "Unauthorized", "type": "authentication_error", "code": None}}


def test_probes_are_open_and_keys_never_reach_the_log(backend, live, key):
    assert httpx.get(f"{root(live)}/health").status_code == 200
    assert httpx.get(f"{root(live)}/ready").json()["status"] == "ready"
    httpx.get(f"{root(live)}/v1/models?key={key}")
    assert httpx.get(f"{root(live)}/openapi.json").status_code == 401
    assert "/score" in httpx.get(f"{root(live)}/openapi.json", headers=auth(key)).json()["paths"]
    folder = backend.paths.endpoint_dir(NAME)
    log_text = (folder / "server.log").read_text() + (folder / "requests.log").read_text()
    assert "POST /score 200" in (folder / "requests.log").read_text()
    for k in (backend.endpoints.keys(NAME).primary, backend.endpoints.keys(NAME).secondary):
        assert k not in log_text


BAD = [
    ("/score", b"{not json", 400, "not valid JSON"),
    ("/score", b'{"params": {}}', 400, "input_data: missing"),
    (
        "/score",
        json.dumps({"input_data": {"input_string": [[{"role": "robot", "content": "x"}]]}}).encode(),
        400,
        "unknown role 'robot'",
    ),
    ("/score", json.dumps({"input_data": {"input_string": [["just text"]]}}).encode(), 400, "expected a {role, content} object"),
    (
        "/score",
        json.dumps({"input_data": {"input_string": USER, "parameters": {"max_new_tokens": 0}}}).encode(),
        400,
        "max_new_tokens: 0 is out of range",
    ),
    (
        "/score",
        json.dumps({"input_data": {"input_string": USER, "parameters": {"max_new_tokens": 99999}}}).encode(),
        400,
        "use 1..1024",
    ),
    (
        "/score",
        json.dumps({"input_data": {"input_string": USER, "parameters": {"temperature": -0.5}}}).encode(),
        400,
        "temperature: -0.5",
    ),
    ("/score", json.dumps({"input_data": {"input_string": USER, "parameters": {"top_p": 1.5}}}).encode(), 400, "top_p: 1.5"),
    ("/v1/chat/completions", json.dumps({"messages": USER, "n": 3}).encode(), 400, "only n=1"),
    ("/v1/chat/completions", json.dumps({"messages": "hi"}).encode(), 400, "messages: expected a non-empty list"),
    (
        "/v1/chat/completions",
        json.dumps({"messages": [{"role": "user", "content": "x" * 3000}]}).encode(),
        400,
        "the model's context is 1024",
    ),
    ("/score", b"[" + b"1," * 600_000 + b"1]", 413, "limit"),
]


@pytest.mark.parametrize("path, body, status, needle", BAD, ids=[f"{b[0]}-{b[3][:20]}" for b in BAD])
def test_bad_input_is_a_4xx_that_says_what_is_wrong_and_serving_goes_on(live, key, path, body, status, needle):
    url = root(live) + path
    r = httpx.post(url, content=body, headers={**auth(key), "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == status
    assert needle in r.json()["error"]["message"]
    good = httpx.post(
        live.scoring_uri,
        headers=auth(key),
        timeout=30,
        json={"input_data": {"input_string": USER, "parameters": {"max_new_tokens": 4}}},
    )
    assert good.status_code == 200 and "output" in good.json()


def test_openai_client_sees_the_servers_message(live, key):
    from openai import BadRequestError, OpenAI

    client = OpenAI(base_url=live.base_url, api_key=key, max_retries=0)
    with pytest.raises(BadRequestError, match="top_p"):
        client.chat.completions.create(model="m", messages=USER, top_p=0)


def test_concurrent_streams_all_complete_with_their_own_answers(live, key):
    from openai import AsyncOpenAI

    prompts = [[{"role": "user", "content": f"question number {i} " * (i + 1)}] for i in range(6)]

    async def stream(client, messages):
        out = []
        async for chunk in await client.chat.completions.create(
            model="m", messages=messages, temperature=0, max_tokens=16, stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return "".join(out)

    async def main():
        async with AsyncOpenAI(base_url=live.base_url, api_key=key, max_retries=0) as client:
            together = await asyncio.gather(*(stream(client, p) for p in prompts))
            alone = [await stream(client, p) for p in prompts]
        return together, alone

    together, alone = asyncio.run(main())
    assert together == alone  # batched generation gives each request exactly its own answer
    assert len(set(alone)) > 1


def metric(live, key, name: str) -> float:
    text = httpx.get(f"{root(live)}/metrics", headers=auth(key)).text
    return float(next(line for line in text.splitlines() if line.startswith(name)).split()[-1])


def test_a_client_that_goes_away_mid_stream_stops_its_generation(live, key):
    body = {"messages": USER, "max_tokens": 1000, "temperature": 0, "stream": True}
    before = metric(live, key, "finetui_generated_tokens_total")
    with httpx.stream("POST", f"{live.base_url}/chat/completions", json=body, headers=auth(key), timeout=30) as s:
        lines = s.iter_lines()
        [next(lines) for _ in range(6)]  # a few tokens, then hang up
    deadline = time.monotonic() + 10
    while metric(live, key, "finetui_requests_in_flight") > 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the /metrics request itself is in flight
    settled = metric(live, key, "finetui_generated_tokens_total")
    time.sleep(0.3)
    assert metric(live, key, "finetui_generated_tokens_total") == settled
    assert settled - before < 900  # far from the 1000 tokens it asked for


def test_metrics_count_requests_tokens_and_first_token_times(live, key):
    httpx.post(live.scoring_uri, json={"input_data": {"input_string": USER}}, headers=auth("wrong"))
    httpx.post(
        live.scoring_uri, json={"input_data": {"input_string": USER, "parameters": {"max_new_tokens": 2}}}, headers=auth(key)
    )
    text = httpx.get(f"{root(live)}/metrics", headers=auth(key)).text
    assert 'route="/score",status="200"' in text and 'status="401"' in text
    count = next(line for line in text.splitlines() if line.startswith("finetui_time_to_first_token_seconds_count"))
    assert float(count.split()[-1]) > 0
    tokens = next(line for line in text.splitlines() if line.startswith("finetui_generated_tokens_total"))
    assert float(tokens.split()[-1]) > 0


async def test_chat_client_streams_and_masks_the_key(live, key):
    async with ChatClient(live.base_url, key, endpoint=NAME) as client:
        pieces = [p async for p in client.stream(USER, ChatParams(do_sample=False, max_new_tokens=10))]
        assert pieces and client.last_stats.tokens >= 1 and client.last_stats.ttft_s > 0
        assert client.last_request["json"]["max_tokens"] == 10 and client.last_request["json"]["temperature"] == 0
        raw = json.dumps([client.last_request, client.last_response])
        assert key not in raw and "Bearer ***" in raw and "[DONE]" in raw
        assert key not in repr(client)
    async with ChatClient(live.scoring_uri, key, endpoint=NAME) as client:
        assert client.protocol == "score"
        whole = [p async for p in client.stream(USER, ChatParams(do_sample=False, max_new_tokens=10))]
        assert whole == ["".join(pieces)]


async def test_chat_client_errors_are_typed(live, key):
    async with ChatClient(live.base_url, "not-the-key", endpoint=NAME) as client:
        with pytest.raises(AuthError, match=f"finetui endpoint keys {NAME}"):
            await client.complete(USER)
    async with ChatClient(live.base_url, key) as client:
        with pytest.raises(InvalidInput, match="max_tokens: 0 is out of range"):
            await client.complete(USER, ChatParams(max_new_tokens=0))
    async with ChatClient("http://127.0.0.1:9/v1", key) as client:
        with pytest.raises(OperationFailed, match="127.0.0.1:9"):
            await client.complete(USER)


def test_manager_resolves_the_registry_before_the_catalog(backend, tiny_model):
    manager = LocalEndpoints(backend.paths, backend.store, StandInRegistry({"ft-model": tiny_model}))
    assert manager._resolve_model("ft-model:3") == ("ft-model:3", str(tiny_model))
    assert manager._resolve_model("tiny-chat")[0] == "tiny-chat:1"  # falls back to the catalog
    with pytest.raises(NotFound, match="no model named 'nope' in .*: neither registered nor in the catalog"):
        manager._resolve_model("nope")


def test_cli_list_show_keys_invoke(backend, live, tmp_path):
    ws = backend.paths.root
    listed = finetui_json(ws, "endpoint", "list")
    assert listed[0]["name"] == NAME and listed[0]["state"] == "Succeeded" and listed[0]["uptime_s"] > 0
    table = finetui(ws, "endpoint", "list").stdout
    assert NAME in table and "UPTIME" in table and "IDLE" in table
    shown = finetui_json(ws, "endpoint", "show", NAME)
    assert shown["scoring_uri"] == live.scoring_uri and "primary" not in json.dumps(shown)
    assert finetui_json(ws, "endpoint", "keys", NAME)["primary"] == backend.endpoints.keys(NAME).primary
    request = tmp_path / "sample_score.json"
    request.write_text(json.dumps({"input_data": {"input_string": [USER], "parameters": {"max_new_tokens": 5}}, "params": {}}))
    assert "output" in finetui_json(ws, "endpoint", "invoke", NAME, "--request-file", str(request))
    request.write_text("{broken")
    bad = finetui(ws, "endpoint", "invoke", NAME, "--request-file", str(request), check=False)
    assert bad.returncode == 2 and "line 1" in bad.stderr


def test_cli_errors_are_one_line_with_the_right_exit_code(backend, live):
    ws = backend.paths.root
    for args, code, needle in [
        (("endpoint", "create", "9bad", "--model", "tiny-chat"), 2, "3-32 letters"),
        (("endpoint", "create", NAME, "--model", "tiny-chat"), 1, "already exists"),
        (("endpoint", "create", "ep-x", "--model", "no-such-model"), 2, "no-such-model"),
        (("endpoint", "delete", "ep-nope", "--yes"), 2, "no endpoint named 'ep-nope'"),  # nothing to delete: bad input
        (("endpoint", "delete", NAME), 2, "--yes"),
        (("chat", "http://127.0.0.1:9/v1", "--message", "hi"), 2, "FINETUI_ENDPOINT_KEY"),
    ]:
        proc = finetui(ws, *args, check=False, env={"FINETUI_ENDPOINT_KEY": ""})
        assert proc.returncode == code, (args, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and needle in errors[0], proc.stderr


def test_cli_chat_one_shot_compare_and_repl(backend, live):
    ws = backend.paths.root
    key = backend.endpoints.keys(NAME).primary
    one = finetui_json(ws, "chat", NAME, "--message", "hi", "--param", "max_new_tokens=6", "--param", "do_sample=false")
    assert one["endpoint"] == NAME and one["stats"]["tokens"] >= 1
    both = finetui_json(
        ws,
        "chat",
        "--compare",
        NAME,
        live.base_url,
        "--key",
        key,
        "--message",
        "hi",
        "--param",
        "max_new_tokens=6",
        "--param",
        "do_sample=false",
    )
    assert [b["endpoint"] for b in both] == [NAME, live.base_url] and both[0]["answer"] == both[1]["answer"]
    script = "hello\n/params max_new_tokens=3 do_sample=false\nagain\n/raw\n/system be brief\n/reset\n/bogus\nthird\n/exit\nnever sent\n"
    proc = repl(ws, script, "chat", NAME)
    assert proc.stdout.count('"request"') == 1 and '"max_tokens": 3' in proc.stdout and "Bearer ***" in proc.stdout
    assert "tokens" in proc.stderr and "conversation cleared" in proc.stderr and "unknown command /bogus" in proc.stderr
    assert key not in proc.stdout + proc.stderr
    assert proc.stdout.count("first token") == 0  # stats go to stderr


def test_regenerated_key_replaces_the_old_one_without_restart(backend, live):
    old = backend.endpoints.keys(NAME)
    pid = backend.get_endpoint(NAME).pid
    proc = finetui(backend.paths.root, "endpoint", "regenerate-keys", NAME, "--key", "primary")
    assert "regenerated the primary key" in proc.stdout and old.primary not in proc.stdout
    new = backend.endpoints.keys(NAME)
    assert new.primary != old.primary and new.secondary == old.secondary
    body = {"input_data": {"input_string": USER, "parameters": {"max_new_tokens": 2}}}
    assert httpx.post(live.scoring_uri, json=body, headers=auth(old.primary), timeout=30).status_code == 401
    assert httpx.post(live.scoring_uri, json=body, headers=auth(new.primary), timeout=30).status_code == 200
    assert httpx.post(live.scoring_uri, json=body, headers=auth(old.secondary), timeout=30).status_code == 200
    assert backend.get_endpoint(NAME).pid == pid


def test_delete_stops_the_server_closes_the_port_and_removes_the_keys(backend, live):
    port = int(live.scoring_uri.rsplit(":", 1)[1].split("/")[0])
    keys_file = backend.paths.endpoint_dir(NAME) / "keys.json"
    assert port_open("127.0.0.1", port)
    out = finetui_json(backend.paths.root, "endpoint", "delete", NAME, "--yes")
    assert out == {"name": NAME, "deleted": True}
    assert not port_open("127.0.0.1", port) and not keys_file.exists()
    with pytest.raises(NotFound):
        backend.get_endpoint(NAME)
    with pytest.raises(NotFound, match="nothing to delete"):
        backend.delete_endpoint(NAME)
