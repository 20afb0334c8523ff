"""Puts a detached finetui process (the Azure TTL watcher) in front of the fake Azure service.

Python imports ``sitecustomize`` at start-up from the path; the TTL test puts
this folder on PYTHONPATH with FINETUI_FAKE_AZURE naming a JSON file
``{"endpoints": [...], "out": PATH}`` (optionally ``"requests": {endpoint:
count}`` for Azure Monitor to report and ``"faults": [[method, pattern,
status, code, message, times], ...]``). The process then gets its own
standard fake holding those endpoints, reached through requests' adapter as
in-process tests do, and writes the requests it served to ``out`` at exit.
Nothing of finetui's is replaced: the watcher runs its real code and the SDK.
"""

import os

if os.environ.get("FINETUI_FAKE_AZURE"):
    import atexit
    import json

    import pytest
    from azure.core.pipeline.transport import RequestsTransport

    from azure_fake import LOC, MGMT, WS_ID, standard_fake
    from azure_login import FakeLogin
    from azure_replay import FakeRequest, install

    _config = json.loads(open(os.environ["FINETUI_FAKE_AZURE"], encoding="utf-8").read())
    _fake, _login = standard_fake(), FakeLogin()
    for _name in _config["endpoints"]:
        _path = f"{WS_ID}/onlineEndpoints/{_name}"
        _body = json.dumps(
            {"location": LOC, "tags": {}, "properties": {"authMode": "Key", "traffic": {}, "mirrorTraffic": {}, "properties": {}}}
        ).encode()
        _fake.endpoint_put(FakeRequest("PUT", MGMT + _path, "management.azure.com", _path, {}, {}, _body), _name)

    _fake.endpoint_requests.update(_config.get("requests") or {})
    for _fault in _config.get("faults") or []:
        _fake.fail(*_fault)

    def _route(req):
        if req.host in ("login.microsoftonline.com", "169.254.169.254"):
            return _login(req)
        return _fake(req)

    install(pytest.MonkeyPatch(), _route)
    RequestsTransport.sleep = lambda self, duration: None  # LRO polls at once

    @atexit.register
    def _dump() -> None:
        with open(_config["out"], "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "requests": [[r.method, r.path] for r in _fake.requests],
                    "endpoints": sorted(_fake.endpoints),
                    "unhandled": _fake.unhandled,
                },
                fh,
            )
