"""The Data pane shows dataset text with its escape sequences made visible, in the rows and in the chat view."""

from __future__ import annotations

import json

from textual.widgets import Static
from tui_fixtures import wait_for

from finetui.tui.app import FinetuiApp
from finetui.tui.widgets.jsonl_view import JsonlView

ROW = {
    "messages": [
        {"role": "user", "content": "hi \x1b]0;pwned\x07 there \x9b2J"},
        {"role": "assistant", "content": "fine \x1b[31mred"},
    ]
}


async def test_rows_and_chat_show_escape_sequences_as_text(local_ws):
    evil = local_ws.paths.data / "evil.jsonl"
    evil.write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    app = FinetuiApp(lambda: local_ws, poll_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.mounted)
        await pilot.press("3")
        view = app.query_one(JsonlView)
        app.pane("data").open_file(evil)
        await wait_for(pilot, lambda: view.done and view.row_count == 1 and view.path == evil)
        row = view.visible_rows()[0]
        assert "hi ␛]0;pwned␇ there \\x9b2J" in row and "\x1b" not in row and "\x9b" not in row
        view.focus()
        await pilot.press("enter")
        conversation = app.query_one("#conversation", Static)
        await wait_for(pilot, lambda: "pwned" in getattr(conversation.content, "plain", ""))
        text = conversation.content.plain
        assert "␛]0;pwned␇" in text and "fine ␛[31mred" in text
        assert not any(c in text for c in "\x1b\x07\x9b")
