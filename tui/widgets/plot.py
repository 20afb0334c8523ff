"""Loss curves: textual-plotext (braille resolution, labelled axes) with a legend of last values.

Train loss is a braille line, eval loss ``x`` markers, so the plot reads
without colour too. The Trainer's closing ``train_loss`` is the run's mean,
not a point of the curve: it is named as such in the legend, never plotted.
``z`` zooms on the last steps.
"""

from __future__ import annotations

from typing import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

# (metric, legend mark, plotext marker)
SERIES = (("loss", "⠿", "braille"), ("eval_loss", "x", "x"))
ZOOMS = (None, 50, 10)  # all steps, then the last N
EMPTY = "no metrics yet: loss and eval_loss appear here as the job logs them"


def split_series(points: Sequence[object]) -> tuple[dict[str, list[tuple[float, float]]], float | None]:
    """(loss and eval_loss as (step, value) in step order, the run's mean train loss if logged)."""
    series: dict[str, list[tuple[float, float]]] = {}
    mean = None
    for p in points:
        name = getattr(p, "name", "")
        if name == "train_loss":
            mean = float(p.value)
        elif name in ("loss", "eval_loss"):
            series.setdefault(name, []).append((float(p.step), float(p.value)))
    for values in series.values():
        values.sort()
    return series, mean


def legend(series: dict[str, list[tuple[float, float]]], mean: float | None, last_n: int | None) -> str:
    if not any(series.values()):
        return EMPTY
    parts = [f"{mark} {name} {series[name][-1][1]:.4g} @{series[name][-1][0]:g}" for name, mark, _ in SERIES if series.get(name)]
    if mean is not None:
        parts.append(f"run mean {mean:.4g}")
    parts.append(f"z: {'all' if last_n is None else f'last {last_n}'}")
    return " · ".join(parts)


class LossPlot(Vertical, can_focus=True):
    DEFAULT_CSS = """
    LossPlot { height: 1fr; }
    LossPlot > #plot-legend { height: auto; padding: 0 1; }
    LossPlot > #plot-canvas { height: 1fr; }
    """
    BINDINGS = [Binding("z", "zoom", "Zoom")]

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.mean: float | None = None
        self.last_n: int | None = None

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot  # plotext loads when the Jobs pane mounts, after the first frame

        yield Static(EMPTY, id="plot-legend")
        yield PlotextPlot(id="plot-canvas")

    def set_points(self, points: Sequence[object]) -> None:
        self.series, self.mean = split_series(points)
        self._draw()

    def action_zoom(self) -> None:
        self.last_n = ZOOMS[(ZOOMS.index(self.last_n) + 1) % len(ZOOMS)]
        self._draw()

    def _draw(self) -> None:
        self.query_one("#plot-legend", Static).update(legend(self.series, self.mean, self.last_n))
        canvas = self.query_one("#plot-canvas")
        plt = canvas.plt
        plt.clear_figure()
        last = max((s[-1][0] for s in self.series.values() if s), default=0.0)
        start = last - self.last_n if self.last_n else float("-inf")
        for name, _, marker in SERIES:
            shown = [(x, y) for x, y in self.series.get(name, ()) if x > start]
            if not shown:
                continue
            xs, ys = [x for x, _ in shown], [y for _, y in shown]
            if marker == "braille":
                plt.plot(xs, ys, marker=marker, label=name)
            else:
                plt.scatter(xs, ys, marker=marker, label=name)
        plt.xlabel("step")
        canvas.refresh()
