"""Loaded at start-up by a ``finetui`` child process of the Azure tests (PYTHONPATH names this folder).

With FINETUI_FAKE_AZURE_URL set, every ``requests`` call to a host other than
127.0.0.1 is sent to the test's fake service (tests/azure/azure_server.py)
instead of the network; the SDK above it runs unchanged.
"""

import os

URL = os.environ.get("FINETUI_FAKE_AZURE_URL")

if URL:
    import base64
    import io
    import json
    import urllib.request
    from urllib.parse import urlsplit

    import requests
    from requests.adapters import HTTPAdapter
    from requests.structures import CaseInsensitiveDict

    _real_send = HTTPAdapter.send

    def _body(prepared) -> bytes:
        body = prepared.body
        if body is None:
            return b""
        if isinstance(body, str):
            return body.encode()
        if isinstance(body, (bytes, bytearray)):
            return bytes(body)
        return body.read() if hasattr(body, "read") else b"".join(body)

    def _send(self, request, *args, **kwargs):
        if (urlsplit(request.url).hostname or "") in ("127.0.0.1", "localhost"):
            return _real_send(self, request, *args, **kwargs)
        msg = json.dumps(
            {
                "method": request.method.upper(),
                "url": request.url,
                "headers": dict(request.headers),
                "body": base64.b64encode(_body(request)).decode(),
            }
        ).encode()
        with urllib.request.urlopen(urllib.request.Request(URL, data=msg, method="POST"), timeout=120) as r:
            answer = json.loads(r.read())
        raw = base64.b64decode(answer["body"])
        response = requests.Response()
        response.status_code = answer["status"]
        response.headers = CaseInsensitiveDict(answer["headers"])
        response.headers["Content-Length"] = str(len(raw))
        response._content = raw
        response._content_consumed = True
        response.url = request.url
        response.request = request
        response.reason = "OK" if answer["status"] < 400 else "Error"
        response.encoding = "utf-8"
        response.raw = io.BytesIO(raw)
        return response

    HTTPAdapter.send = _send
