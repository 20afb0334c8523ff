"""`job metrics` for people: the points pivoted to one row per step and a column per metric."""

from __future__ import annotations

from finetui.core.models import MetricPoint
from finetui.tui.cli.job_cmd import per_step


def test_one_row_per_step_a_column_per_metric_and_gaps_marked():
    points = [
        MetricPoint("loss", 2.5, 1, 0.1),
        MetricPoint("learning_rate", 5e-6, 1, 0.1),
        MetricPoint("loss", 2.0, 2, 0.2),
        MetricPoint("learning_rate", 4e-6, 2, 0.2),
        MetricPoint("eval_loss", 2.2, 2, 0.2),
        MetricPoint("loss", 1.5, 10, None),
    ]
    headers, rows = per_step(points)
    assert headers == ["STEP", "EPOCH", "loss", "learning_rate", "eval_loss"]
    assert rows == [
        ["1", "0.10", "2.5", "5e-06", "-"],
        ["2", "0.20", "2", "4e-06", "2.2"],
        ["10", "-", "1.5", "-", "-"],
    ]
