"""ChatConsole over core's real ChatClient; only the HTTP transport is faked (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from textual.app import App, ComposeResult
from textual.widgets import Markdown, Static
from tui_fixtures import wait_for

from finetui.core.chat import ChatClient
from finetui.tui.screens import PromptScreen
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
    """A ChatConsole whose endpoint's HTTP requests go to ``handle``."""

    def __init__(self, handle: Callable[[httpx.Request], httpx.Response] = sse) -> None:
        super().__init__()
        self.handle = handle

    def compose(self) -> ComposeResult:
        yield ChatConsole()

    def on_mount(self) -> None:
        url = "http://127.0.0.1:9/v1"
        self.query_one(ChatConsole).set_endpoint(
            url, lambda: ChatClient(url, KEY, endpoint="ep", transport=httpx.MockTransport(self.handle))
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
        # the command is on screen too: OSC 52 may have gone nowhere
        shown = app.screen.query_one("#text-body").text
        assert shown == app.clipboard
        await pilot.press("escape")
        assert app.screen.query_one(ChatConsole) is console


async def test_settings_are_visible_and_editable():
    seen: list[dict] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return sse(request)

    app = ChatApp(record)
    async with app.run_test(size=(120, 30)) as pilot:
        console = app.query_one(ChatConsole)
        settings = app.query_one("#chat-settings", Static)
        assert "system: (none)" in str(settings.content) and "max_new_tokens 200" in str(settings.content)
        app.query_one("#chat-input").focus()
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        field = app.screen.query_one("#prompt-input")
        field.value = "temperature=0.2 max_new_tokens=64 system=You are terse."
        await pilot.press("enter")
        assert "system: You are terse. · temperature 0.2 · max_new_tokens 64" in str(settings.content)
        await wait_for(pilot, lambda: not isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one("#prompt-input").value = "max_tokns=5"  # not a key: nothing changes, and it says why
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PromptScreen))
        assert "max_new_tokens 64" in str(settings.content)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one("#prompt-input").value = "max_tokens=32"  # OpenAI's name, as finetui chat's /params takes it
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PromptScreen))
        assert "max_new_tokens 32" in str(settings.content)
        app.query_one("#chat-input").focus()
        await pilot.press(*"Hi", "enter")
        await wait_for(pilot, lambda: len(console.messages) == 2)
        assert seen[-1]["messages"][0] == {"role": "system", "content": "You are terse."}
        assert seen[-1]["temperature"] == 0.2 and seen[-1]["max_tokens"] == 32
