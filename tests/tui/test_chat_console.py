"""ChatConsole over core's real ChatClient; only the HTTP transport is faked (httpx.MockTransport)."""

from __future__ import annotations

import json

import httpx
from textual.app import App, ComposeResult
from textual.widgets import Markdown, Static
from tui_fixtures import wait_for

from finetui.core.chat import ChatClient
from finetui.tui.widgets.chat import ChatConsole

KEY = "sk-test-0123456789abcdef"
WORDS = ["Fine", "-tuning", " is", " **done**", "."]


def sse(request: httpx.Request) -> httpx.Response:
    assert request.headers["authorization"] == f"Bearer {KEY}"
    events = [{"choices": [{"delta": {"content": w}}]} for w in WORDS]
    events.append({"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"completion_tokens": len(WORDS)}})
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


class ChatApp(App):
    def compose(self) -> ComposeResult:
        yield ChatConsole()

    def on_mount(self) -> None:
        url = "http://127.0.0.1:9/v1"
        self.query_one(ChatConsole).set_endpoint(
            url, lambda: ChatClient(url, KEY, endpoint="ep", transport=httpx.MockTransport(sse))
        )


async def test_streams_answer_and_copies_curl_without_the_key():
    app = ChatApp()
    async with app.run_test(size=(100, 30)) as pilot:
        console = app.query_one(ChatConsole)
        app.query_one("#chat-input").focus()
        await pilot.press(*"Hello", "enter")
        stats = app.query_one("#chat-stats", Static)
        await wait_for(pilot, lambda: "first token" in str(stats.content))
        assert "5 tokens" in str(stats.content)
        answer = app.query_one(".chat-assistant", Markdown)
        assert answer.source == "".join(WORDS)
        assert console.messages[-1] == {"role": "assistant", "content": "Fine-tuning is **done**."}
        await pilot.press("ctrl+r")
        raw = str(app.query_one("#chat-raw", Static).content)
        assert "Bearer ***" in raw and KEY not in raw
        await pilot.press("ctrl+y")
        assert "$FINETUI_ENDPOINT_KEY" in app.clipboard and KEY not in app.clipboard
        assert "http://127.0.0.1:9/v1/chat/completions" in app.clipboard
