"""The Data pane's loss-mask preview at 80x24, in colour and under NO_COLOR.

Update only after looking at the diff: `pytest tests/tui/test_mask_preview.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from finetui.core.data.preview import preview_row
from finetui.core.seq_length import job_sequence_length
from finetui.tui.widgets.mask_preview import MaskPreview


@pytest.fixture(scope="module")
def preview():
    from chat_templates import CHATML, TWO_TURNS, build_tokenizer

    tokenizer = build_tokenizer(CHATML)
    full = preview_row(tokenizer, TWO_TURNS, job_sequence_length(-1, 8192), row=7)
    # cut inside the second reply, so the truncation marker and a warning-free partial turn show
    return preview_row(tokenizer, TWO_TURNS, job_sequence_length(full.spans[1].start + 3, 8192), row=7)


class PreviewApp(App):
    def __init__(self, preview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield MaskPreview()

    def on_mount(self) -> None:
        self.query_one(MaskPreview).show_preview(self.preview)


def test_mask_preview_colour(snap_compare, preview, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert snap_compare(PreviewApp(preview), terminal_size=(80, 24))


def test_mask_preview_no_color(snap_compare, preview, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = PreviewApp(preview)
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24))


def test_no_color_text_brackets_the_trained_tokens(preview):
    from finetui.tui.widgets.mask_preview import mask_preview_text

    plain = mask_preview_text(preview, colour=False).plain
    assert "[[Hello! How can I help?<|im_end|>\n]]" in plain
    assert "✂── max_length" in plain and "[[Oct" in plain.split("✂──")[0]


async def test_data_pane_previews_the_selected_row_with_the_selected_model(local_ws):
    from chat_templates import CHATML, build_tokenizer
    from textual.widgets import TabbedContent
    from tui_fixtures import wait_for

    from finetui.tui.app import FinetuiApp
    from finetui.tui.widgets.jsonl_view import JsonlView

    build_tokenizer(CHATML).save_pretrained(local_ws.get_model("tiny-chat").path)
    app = FinetuiApp(lambda: local_ws, poll_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.mounted and app.selected_model is not None)
        await pilot.press("3")
        view = app.query_one(JsonlView)
        await wait_for(pilot, lambda: view.done and view.row_count > 0)
        view.focus()
        await pilot.press("enter")
        preview = app.query_one(MaskPreview)
        await wait_for(pilot, lambda: "loss mask:" in str(preview.content) or "not available" in str(preview.content))
        text = str(preview.content)
        assert "loss mask: derived" in text and "max_length" in text, text
        app.query_one("#data-tabs", TabbedContent).active = "mask-tab"
        await pilot.pause()
