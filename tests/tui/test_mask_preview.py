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

TWO_TURNS = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
             {"role": "user", "content": "Tell me a fact."}, {"role": "assistant", "content": "Octopuses have three hearts."}]


@pytest.fixture(scope="module")
def preview():
    from chat_templates import CHATML, build_tokenizer

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
