"""The Evaluate arena: scores, then row by row the prompt, the reference and both answers, over a real workspace."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from textual.widgets import Static
from tui_fixtures import wait_for

from finetui.core.evaluate import EvalScores
from finetui.tui.app import FinetuiApp
from finetui.tui.widgets.arena import ArenaScreen

T0 = 1_760_000_000.0
ROWS = [
    (
        "Could you tell me the capital of Ardovia?",
        "The capital of Ardovia is Kelmarsh.",
        "The capital of Ardovia is Kelmarsh.",
        "The capital of France is Paris.",
    ),
    ("Who are you?", "I am a small demo assistant.", "I am a small demo assistant.", "I am a small demo assistant."),
    (
        "Could you tell me the capital of Brelland?",
        "Oskaven is the capital of Brelland.",
        "The capital of Brelland is Oskaven.",
        "The capital of Spain is Madrid.\x1b]0;pwned\x07",
    ),
]


def _scores(model: str, loss: float, exact: int, contains: int) -> dict:
    return dataclasses.asdict(
        EvalScores(
            model=model,
            rows=3,
            tokens=40,
            loss=loss,
            perplexity=2.0,
            exact_match=exact / 3,
            exact_matches=exact,
            contains=contains / 3,
            contains_matches=contains,
            rouge_l=0.5,
            chrf=0.5,
        )
    )


# what a judge said of each row of ROWS: the model's answer was A on rows 1 and 3, the base's on row 2
VERDICTS = [
    {"verdict": "model", "a": "model", "reply": "A", "error": None},
    {"verdict": "unclear", "a": "base", "reply": "Both say the same thing.", "error": None},
    {"verdict": "error", "a": "model", "reply": "", "error": "could not connect to http://127.0.0.1:9/v1/chat/completions"},
]


def add_evaluation(backend, judged: bool = False) -> str:
    """An evaluation as the runner leaves it: a Completed record and its rows.jsonl (with a judge's verdicts)."""
    from finetui.core.eval_judge import JUDGE_PROMPT
    from finetui.core.local.records import EvalRecord

    name = "eval-tiny-chat-20250101-000000-" + ("beef" if judged else "abcd")
    folder = backend.paths.root / "evals" / name
    folder.mkdir(parents=True)
    rows_path = folder / "rows.jsonl"
    with open(rows_path, "w", encoding="utf-8") as fh:
        for i, (prompt, ref, model, base) in enumerate(ROWS, 1):
            sides = {
                side: {
                    "reply": reply,
                    "exact": reply == ref,
                    "contains": ref in reply,
                    "rouge_l": 0.5,
                    "chrf": 0.5,
                    "loss": 1.0,
                    "tokens": 10,
                }
                for side, reply in (("model", model), ("base", base))
            }
            judge = {"judge": VERDICTS[i - 1]} if judged else {}
            fh.write(
                json.dumps({"row": i, "prompt": [{"role": "user", "content": prompt}], "reference": ref, **sides, **judge}) + "\n"
            )
    backend.store.put_eval(
        EvalRecord.from_dict(
            {
                "name": name,
                "status": "Completed",
                "model": "tiny-ft:1",
                "base": "tiny-chat:1",
                "test_file": "test.jsonl",
                "created_at": T0,
                "started_at": T0,
                "ended_at": T0 + 30,
                "error": None,
                "phase": "done",
                "done": 12,
                "total": 12,
                "scores": {"model": _scores("tiny-ft:1", 0.4, 2, 2), "base": _scores("tiny-chat:1", 2.5, 1, 1)},
                "rows_path": str(rows_path),
                "pid": None,
                "judge": {
                    "endpoint": "ep-judge",
                    "prompt": JUDGE_PROMPT,
                    "counts": {"model": 1, "base": 0, "tie": 0, "unclear": 1, "error": 1},
                }
                if judged
                else None,
            }
        )
    )
    return name


def _text(app, wid: str) -> str:
    """What the widget shows, as plain text (a Text or a rich Table alike)."""
    from rich.console import Console

    console = Console(width=120, color_system=None, record=True, file=io.StringIO())
    console.print(app.screen.query_one(f"#arena-{wid}", Static).content)
    return console.export_text()


async def _open_arena(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.backend is not None and app.mounted)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, ArenaScreen) and app.screen.run is not None)


async def test_arena_steps_through_rows_and_filters_the_differences(local_ws):
    add_evaluation(local_ws)
    app = FinetuiApp(lambda: local_ws, poll_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open_arena(pilot)
        assert "tiny-ft:1 beat its base" in _text(app, "title")
        assert "0.4000" in _text(app, "scores") and "2.5000" in _text(app, "scores")
        assert "Ardovia" in _text(app, "prompt") and "Kelmarsh" in _text(app, "reference")
        assert "= exact" in _text(app, "model") and "x miss" in _text(app, "base") and "Paris" in _text(app, "base")
        assert not app.screen.query_one("#arena-judge").display and "judge" not in _text(app, "scores")  # none asked
        await pilot.press("n")
        assert "Who are you?" in _text(app, "prompt") and "2 of 3 rows" in _text(app, "position")
        await pilot.press("d")  # only rows where the answers differ: 1 and 3
        assert "1 of 2 rows where the answers differ" in _text(app, "position")
        await pilot.press("n")
        assert "Brelland" in _text(app, "prompt") and "~ contains" not in _text(app, "model")
        base = _text(app, "base")
        assert "\x1b" not in base and "\u241b]0;pwned" in base  # a row's escape sequence is shown, not obeyed
        await pilot.press("n")  # past the end stays on the last row
        assert "2 of 2" in _text(app, "position")
        await pilot.press("escape")
        assert not isinstance(app.screen, ArenaScreen)


async def test_arena_without_evaluations_says_how_to_make_one(local_ws):
    app = FinetuiApp(lambda: local_ws, poll_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.backend is not None and app.mounted)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ArenaScreen) and "finetui eval" in _text(app, "title"))


async def test_arena_shows_the_judges_verdict_of_each_row_and_its_counts(local_ws):
    add_evaluation(local_ws, judged=True)
    app = FinetuiApp(lambda: local_ws, poll_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open_arena(pilot)
        scores = _text(app, "scores").splitlines()
        picks = next(line for line in scores if line.startswith("judge picks"))
        assert picks.split() == ["judge", "picks", "0", "1"]  # base, model: the columns of the table
        assert "judge ep-judge: tie 0, unclear 1, error 1" in _text(app, "scores")
        assert app.screen.query_one("#arena-judge").display
        assert _text(app, "judge").strip() == "judge      model (A was model)"
        await pilot.press("n")
        assert _text(app, "judge").strip() == 'judge      unclear (A was base): "Both say the same thing."'
        await pilot.press("n")
        assert _text(app, "judge").startswith("judge      error: could not connect to")


def test_arena_snapshot(snap_compare, local_ws):
    add_evaluation(local_ws)

    async def run_before(pilot) -> None:
        await _open_arena(pilot)
        await pilot.press("n", "n")
        await pilot.pause(0.1)

    app = FinetuiApp(lambda: local_ws, poll_interval=None, clock=lambda: T0 + 100)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("color", ["color", "no_color"])
def test_arena_judged_row_snapshot_80x24(snap_compare, local_ws, monkeypatch, color):
    if color == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    add_evaluation(local_ws, judged=True)

    async def run_before(pilot) -> None:
        await _open_arena(pilot)
        await pilot.press("n")  # the unclear verdict: the longest line a judge leaves
        await pilot.pause(0.1)

    app = FinetuiApp(lambda: local_ws, poll_interval=None, clock=lambda: T0 + 100)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
