"""ChatConsole: talk to an endpoint, the answer streamed through MarkdownStream.

Each token goes to ``Markdown.get_stream()`` (which batches appends when they
come faster than the widget renders), the scroll stays anchored to the
bottom, and the whole answer is set once at the end. Time to first token and
tokens/s are shown; the raw request/response and a curl command are one key
away. The curl command names the key as ``$FINETUI_ENDPOINT_KEY``: secrets
never reach the screen or the clipboard.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from typing import TYPE_CHECKING, Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Markdown, Static

if TYPE_CHECKING:
    from finetui.core.chat import ChatClient, ChatParams


def curl_command(url: str, body: dict[str, Any]) -> str:
    return (
        f"curl -sS -X POST {shlex.quote(url)} -H 'Content-Type: application/json' "
        f'-H "Authorization: Bearer $FINETUI_ENDPOINT_KEY" -d {shlex.quote(json.dumps(body))}'
    )


def piece_text(piece: Any) -> str:
    """A streamed piece as text, whether the client yields str or a small record."""
    if isinstance(piece, str):
        return piece
    for attr in ("text", "delta", "content"):
        value = getattr(piece, attr, None)
        if isinstance(value, str):
            return value
    return ""


def stats_text(client: ChatClient, first: float | None, elapsed: float, pieces: int) -> str:
    """Time to first token and tokens/s: the client's own figures when it keeps them."""
    stats = getattr(client, "last_stats", None)
    if stats is not None:
        from finetui.core.chat import stats_line

        return stats_line(stats)
    rate = (pieces - 1) / (elapsed - first) if first is not None and pieces > 1 and elapsed > first else 0.0
    ttft = f"{first * 1000:.0f} ms" if first is not None else "-"
    return f"first token {ttft} · {pieces} pieces · {rate:.1f} tok/s"


def response_text(response: Any) -> str:
    """The raw response as the server sent it: the status, then the body with its own line breaks."""
    if isinstance(response, dict) and isinstance(response.get("body"), str):
        return f"status {response.get('status')}\n{response['body']}"
    return json.dumps(response, indent=2)


class ChatConsole(Vertical):
    BINDINGS = [
        Binding("ctrl+y", "copy_curl", "Copy curl"),
        Binding("ctrl+r", "toggle_raw", "Raw"),
        Binding("ctrl+o", "settings", "Settings"),
        Binding("ctrl+l", "clear", "clear the conversation", show=False),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.client_factory: Callable[[], ChatClient] | None = None
        self.url: str | None = None
        self.messages: list[dict[str, str]] = []
        self.params: ChatParams | None = None  # None takes the client's defaults
        self.system: str | None = None  # the system prompt, sent first with every turn
        self.last_request: dict[str, Any] | None = None  # as the client recorded it, key masked
        self.last_response: Any = None

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="chat-messages")
        with VerticalScroll(id="chat-raw-box", classes="hidden"):
            yield Static("no request yet", id="chat-raw")
        yield Static("pick an endpoint that is up", id="chat-stats", classes="status-line")
        yield Static("", id="chat-settings", classes="status-line")
        yield Input(placeholder="message (Enter sends)", id="chat-input")

    def set_endpoint(self, url: str | None, client_factory: Callable[[], ChatClient] | None) -> None:
        changed = url != self.url
        self.url, self.client_factory = url, client_factory
        # The endpoints pane calls this on every poll; only a new endpoint resets the console,
        # so the last answer's timings stay on screen.
        if changed:
            self.action_clear()
            self.query_one("#chat-stats", Static).update(
                f"chat with {url} · Ctrl+Y copy as curl · Ctrl+R raw" if url else "pick an endpoint that is up"
            )

    @on(Input.Submitted, "#chat-input")
    def _send(self, event: Input.Submitted) -> None:
        if self.send(event.value):
            event.input.value = ""

    def send(self, text: str) -> bool:
        """Send one user turn (the compare screen sends the same one to two consoles)."""
        text = text.strip()
        if not text or self.client_factory is None:
            return False
        self.messages.append({"role": "user", "content": text})
        self._answer()
        return True

    @work(exclusive=True, group="chat", exit_on_error=False)
    async def _answer(self) -> None:
        box = self.query_one("#chat-messages", VerticalScroll)
        stats = self.query_one("#chat-stats", Static)
        await box.mount(Static(self.messages[-1]["content"], classes="chat-user"))
        answer = Markdown(classes="chat-assistant")
        await box.mount(answer)
        box.anchor()
        parts: list[str] = []
        start = time.perf_counter()
        first: float | None = None
        stream = Markdown.get_stream(answer)
        client = None
        try:
            client = await asyncio.to_thread(self.client_factory)  # reads the keys: off the UI thread
            conversation = ([{"role": "system", "content": self.system}] if self.system else []) + self.messages
            async for piece in client.stream(conversation, self.params):
                text = piece_text(piece)
                if not text:
                    continue
                if first is None:
                    first = time.perf_counter() - start
                parts.append(text)
                await stream.write(text)
        except Exception as exc:  # shown in the console, the app keeps running
            parts.append(f"\n\n**error:** {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        finally:
            await stream.stop()
            if client is not None:
                self.last_request = getattr(client, "last_request", None)
                self.last_response = getattr(client, "last_response", None)
                if hasattr(client, "aclose"):
                    await client.aclose()
        full = "".join(parts)
        await answer.update(full)  # one final render of the whole answer
        elapsed = time.perf_counter() - start
        self.messages.append({"role": "assistant", "content": full})
        turn = sum(1 for m in self.messages if m["role"] == "user")
        stats.update(f"turn {turn} · {stats_text(client, first, elapsed, len(parts))} · Ctrl+Y copy as curl · Ctrl+R raw")
        self._update_raw()

    def _update_raw(self) -> None:
        raw = self.query_one("#chat-raw", Static)
        if self.last_request is not None:
            # whole and indented, in a box that scrolls: a long answer is not cut after two lines
            raw.update(
                Text(f"request\n{json.dumps(self.last_request, indent=2)}\n\nresponse\n{response_text(self.last_response)}")
            )
        else:
            raw.update("no request yet")

    def action_toggle_raw(self) -> None:
        self._update_raw()
        self.query_one("#chat-raw-box").toggle_class("hidden")

    def action_copy_curl(self) -> None:
        if not self.url:
            self.app.notify("no endpoint selected", severity="warning")
            return
        if self.last_request:
            url, body = self.last_request.get("url", self.url), self.last_request.get("json", {})
        else:
            url, body = self.url, {"messages": [{"role": "user", "content": "Hello"}]}
        from ..screens import TextScreen

        command = curl_command(url, body)
        # OSC 52 is only a request: many terminals (and tmux without set-clipboard) drop it
        # silently, so the command is always shown too, never "copied" on faith
        self.app.copy_to_clipboard(command)
        self.app.push_screen(
            TextScreen(
                "curl for this request (set FINETUI_ENDPOINT_KEY to the endpoint key). Also sent to the terminal's "
                "clipboard (OSC 52), if the terminal accepts it:",
                command,
            )
        )

    # -- settings: visible under the transcript, edited as KEY=VALUE ------------------------------
    def on_mount(self) -> None:
        self._show_settings()

    def _current_params(self) -> ChatParams:
        if self.params is None:
            from finetui.core.chat import ChatParams

            self.params = ChatParams()
        return self.params

    def settings_text(self) -> str:
        p = self._current_params()
        sampling = f"temperature {p.temperature:g}" if p.do_sample else "greedy"
        return f"system: {self.system or '(none)'} · {sampling} · max_new_tokens {p.max_new_tokens} · Ctrl+O edit"

    def _show_settings(self) -> None:
        self.query_one("#chat-settings", Static).update(self.settings_text())

    def action_settings(self) -> None:
        from ..screens import PromptScreen

        p = self._current_params()
        value = (
            f"temperature={p.temperature:g} top_p={p.top_p:g} do_sample={str(p.do_sample).lower()} "
            f"max_new_tokens={p.max_new_tokens}" + (f" system={self.system}" if self.system else "")
        )
        title = "Chat settings as KEY=VALUE (temperature, top_p, do_sample, max_new_tokens, seed, stop); system=TEXT last:"
        self.app.push_screen(PromptScreen(title, value=value), self.apply_settings)

    def apply_settings(self, text: str | None) -> None:
        """``temperature=0.2 max_new_tokens=64 system=You are terse.``: everything after ``system=`` is the prompt."""
        if text is None:
            return
        head, sep, system = f" {text}".partition(" system=")
        try:
            params = self._current_params().updated(head.split())
        except Exception as exc:  # core's InvalidInput: one line naming the key
            self.app.notify(str(exc), severity="error", title="chat settings unchanged")
            return
        self.params = params
        if sep:
            self.system = system.strip() or None
        self._show_settings()

    def action_clear(self) -> None:
        self.messages.clear()
        self.last_request, self.last_response = None, None
        self.query_one("#chat-messages", VerticalScroll).remove_children()
        self._update_raw()  # another endpoint: its raw view must not show the last one's request
