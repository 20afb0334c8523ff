"""Loss curves in the terminal: each series a marker on a character grid.

Markers differ (• loss, × eval_loss), so the plot reads without colour too.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

SERIES = (("loss", "•", "cyan"), ("eval_loss", "×", "magenta"))


def plot_text(series: dict[str, Sequence[tuple[float, float]]], width: int, height: int) -> Text:
    points = [p for name, _, _ in SERIES for p in series.get(name, ())]
    if not points:
        return Text("no metrics yet: loss and eval_loss appear here as the job logs them")
    label_w = 8
    cols, rows = max(8, width - label_w - 1), max(3, height - 2)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    grid = [[(" ", "")] * cols for _ in range(rows)]
    for name, mark, color in SERIES:
        for x, y in series.get(name, ()):
            c = 0 if x1 == x0 else round((x - x0) * (cols - 1) / (x1 - x0))
            r = round((y1 - y) * (rows - 1) / (y1 - y0))
            grid[r][c] = (mark, color)
    out = Text(no_wrap=True, overflow="crop")
    for r, line in enumerate(grid):
        label = f"{y1:.3g}" if r == 0 else f"{y0:.3g}" if r == rows - 1 else ""
        out.append(f"{label:>{label_w}}│")
        for ch, style in line:
            out.append(ch, style=style)
        out.append("\n")
    out.append(" " * label_w + "└" + "─" * cols + "\n")
    legend = "   ".join(
        f"{mark} {name} {series[name][-1][1]:.4g}" for name, mark, _ in SERIES if series.get(name)
    )
    out.append(f"{'':>{label_w}} step {x0:g}…{x1:g}   {legend}")
    return out


class LossPlot(Widget):
    DEFAULT_CSS = "LossPlot { height: 1fr; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.series: dict[str, list[tuple[float, float]]] = {}

    def set_points(self, points: Sequence[object]) -> None:
        series: dict[str, list[tuple[float, float]]] = {}
        for p in points:
            name = getattr(p, "name", "")
            if name in ("loss", "train_loss", "eval_loss"):
                key = "loss" if name == "train_loss" else name
                series.setdefault(key, []).append((float(p.step), float(p.value)))
        self.series = series
        self.refresh()

    def render_line(self, y: int) -> Strip:
        # drawn line by line: a Text through the layout engine would re-wrap and trim the grid
        width, height = self.content_size.width, self.content_size.height
        if y == 0 or getattr(self, "_lines_for", None) != (width, height, id(self.series)):
            text = plot_text(self.series, width, height)
            self._lines = [Strip(line.render(self.app.console)) for line in text.split("\n")]
            self._lines_for = (width, height, id(self.series))
        line = self._lines[y] if y < len(self._lines) else Strip.blank(width)
        return line.crop_extend(0, width, self.rich_style)
