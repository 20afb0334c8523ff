"""A row as training sees it: the chat template applied, trained tokens highlighted, the truncation point.

Under NO_COLOR the trained text is also bracketed (``[[...]]``) and
underlined, so the mask reads the same without colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from finetui.core.data.preview import TRAINED_CLOSE, TRAINED_OPEN

if TYPE_CHECKING:
    from finetui.core.data.preview import RowPreview

STYLES = {"trained": "bold underline #8fd18f on #1f3a1f", "context": "dim", "cut": "bold #e0b050", "dropped": "dim strike"}


def mask_preview_text(preview: RowPreview, *, colour: bool = True) -> Text:
    out = Text()
    out.append(f"row {preview.row} · {preview.token_count} tokens · max_length {preview.max_length}\n", style="bold")
    out.append(f"loss mask: {preview.method} · {preview.trained_tokens} trained\n", style="bold")
    if preview.reason:
        out.append(f"{preview.reason}\n")
    out.append("\n")
    for text, kind in preview.segments():
        style = STYLES[kind] if colour else ("underline" if kind == "trained" else "")
        if kind == "trained" and not colour:
            text = f"{TRAINED_OPEN}{text}{TRAINED_CLOSE}"
        out.append(text, style=style)
    for warning in preview.warnings:
        out.append(f"\n⚠ {warning}", style="bold" if not colour else "bold #e0b050")
    return out


class MaskPreview(Static):
    """Shows a ``RowPreview`` (core/data/preview.py), or a one-line reason when there is none."""

    DEFAULT_CSS = """
    MaskPreview { padding: 0 1; }
    """

    def show_preview(self, preview: RowPreview) -> None:
        self.update(mask_preview_text(preview, colour=not self.app.no_color))

    def show_message(self, text: str) -> None:
        self.update(text)
