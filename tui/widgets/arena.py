"""The Evaluate arena: an evaluation's scores, then row by row the prompt, the reference and both answers.

A screen over the app (key ``e``, or Ctrl+P): the latest evaluation, or a
named one. Rows are read in a worker thread and handed over in a message; the
screen only steps through them. ``d`` keeps only the rows where the base and
the fine-tuned model answered differently. An evaluation with a judge also
shows its verdict on each row and its counts under the scores. Every text from the test file or a
model is shown through ``printable`` (it is someone else's text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from finetui.core.errors import Unsupported
from finetui.core.eval_judge import verdict_text
from finetui.core.evaluate import EvalRun
from finetui.core.models import JobStatus
from finetui.core.printable import printable

if TYPE_CHECKING:
    from finetui.core.backend import Backend

MARKS = {"exact": "= exact", "contains": "~ contains", "miss": "x miss"}


class ArenaLoaded(Message):
    def __init__(self, run: EvalRun | None, rows: list[dict[str, Any]], error: str | None = None) -> None:
        super().__init__()
        self.run, self.rows, self.error = run, rows, error


def score_table(run: EvalRun) -> Table:
    table = Table(box=None, pad_edge=False, expand=False, header_style="bold")
    table.add_column("metric")
    sides = [s for s in ("base", "model") if s in run.scores]
    for side in sides:
        table.add_column(f"{side} {run.scores[side].model}", justify="right")
    rows = [
        ("loss", lambda s: f"{s.loss:.4f}" if s.loss is not None else "-"),
        ("exact", lambda s: f"{s.exact_matches}/{s.rows}"),
        ("contains", lambda s: f"{s.contains_matches}/{s.rows}"),
        ("ROUGE-L", lambda s: f"{s.rouge_l:.3f}"),
        ("chrF", lambda s: f"{s.chrf:.3f}"),
    ]
    for name, cell in rows:
        table.add_row(name, *(cell(run.scores[side]) for side in sides))
    if run.judge is not None:  # the rows the judge gave each side; the rest under the table
        counts = run.judge.counts
        table.add_row("judge picks", *(str(counts.get(side, 0)) for side in sides))
        table.caption = f"judge {run.judge.endpoint}: " + ", ".join(
            f"{v} {counts.get(v, 0)}" for v in ("tie", "unclear", "error")
        )
        table.caption_justify = "left"
        table.caption_style = "dim"
    return table


def mark(answer: dict[str, Any]) -> str:
    return MARKS["exact" if answer.get("exact") else "contains" if answer.get("contains") else "miss"]


def differs(row: dict[str, Any]) -> bool:
    return "base" in row and "model" in row and row["base"]["reply"].strip() != row["model"]["reply"].strip()


class ArenaScreen(Screen[None]):
    DEFAULT_CSS = """
    ArenaScreen #arena { padding: 0 1; }
    ArenaScreen #arena-scores { height: auto; margin: 1 0; }
    ArenaScreen #arena-row { height: 1fr; }
    ArenaScreen #arena-answers { height: auto; }
    ArenaScreen .arena-answer { width: 1fr; height: auto; border: round $primary; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("n,j,down,right", "step(1)", "Next row"),
        Binding("p,k,up,left", "step(-1)", "Previous row"),
        Binding("d", "toggle_differ", "Only rows that differ"),
    ]

    def __init__(self, backend: Backend, name: str | None = None) -> None:
        super().__init__()
        self.backend, self.eval_name = backend, name
        self.run: EvalRun | None = None
        self.rows: list[dict[str, Any]] = []
        self.only_differ = False
        self.index = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="arena"):
            yield Static("loading the evaluation…", id="arena-title")
            yield Static("", id="arena-scores")
            yield Static("", id="arena-position", classes="muted")
            with VerticalScroll(id="arena-row"):
                yield Static("", id="arena-prompt")
                yield Static("", id="arena-reference")
                yield Static("", id="arena-judge")
                with Horizontal(id="arena-answers"):
                    yield Static("", id="arena-base", classes="arena-answer")
                    yield Static("", id="arena-model", classes="arena-answer")
        yield Footer(show_command_palette=False)  # as the app: Ctrl+P still opens it, the room goes to the keys

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="arena")
    def _load(self) -> None:
        backend = self.backend
        try:
            run = (
                backend.get_eval(self.eval_name)
                if self.eval_name
                else next((r for r in backend.list_evals() if r.status is JobStatus.COMPLETED), None)
            )
            rows = backend.eval_rows(run.name) if run is not None else []
        except Unsupported:
            self.post_message(ArenaLoaded(None, [], "this backend has no evaluations yet (local backend only)"))
            return
        except Exception as exc:  # a damaged file or record: one line on the screen, not a traceback
            self.post_message(ArenaLoaded(None, [], str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            return
        self.post_message(ArenaLoaded(run, rows))

    @on(ArenaLoaded)
    def _loaded(self, message: ArenaLoaded) -> None:
        title = self.query_one("#arena-title", Static)
        if message.error or message.run is None:
            title.update(message.error or "no completed evaluation yet: `finetui eval MODEL --test FILE`")
            return
        self.run, self.rows = message.run, message.rows
        run = message.run
        verdict = {True: "beat its base", False: "did NOT beat its base", None: "no base to compare"}[run.improved]
        title.update(Text(f"{run.name}: {run.model} {verdict}", style="bold"))
        self.query_one("#arena-scores", Static).update(score_table(run))
        self._show()

    def visible(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if differs(r)] if self.only_differ else self.rows

    def _show(self) -> None:
        rows = self.visible()
        where = "rows where the answers differ" if self.only_differ else "rows"
        position = self.query_one("#arena-position", Static)
        if not rows:
            position.update(f"no {where}")
            for wid in ("prompt", "reference", "judge", "base", "model"):
                self.query_one(f"#arena-{wid}", Static).update("")
            return
        self.index = max(0, min(self.index, len(rows) - 1))
        row = rows[self.index]
        position.update(f"row {row['row']} · {self.index + 1} of {len(rows)} {where} · n/p step · d differ filter · Esc close")
        prompt = row["prompt"][-1]["content"] if row.get("prompt") else ""
        self.query_one("#arena-prompt", Static).update(Text.assemble(("prompt     ", "bold"), printable(prompt)))
        self.query_one("#arena-reference", Static).update(Text.assemble(("reference  ", "bold"), printable(row["reference"])))
        judge = self.query_one("#arena-judge", Static)
        judge.display = "judge" in row  # an evaluation without a judge shows no judge line at all
        judge.update(Text.assemble(("judge      ", "bold"), verdict_text(row["judge"])) if "judge" in row else "")
        for side in ("base", "model"):
            answer = row.get(side)
            widget = self.query_one(f"#arena-{side}", Static)
            if answer is None:
                widget.update(Text(f"{side}: -", style="dim"))
                continue
            head = (f"{side} · {mark(answer)}\n", "bold green" if answer.get("exact") else "bold")
            widget.update(Text.assemble(head, printable(answer["reply"])))

    def action_step(self, delta: int) -> None:
        self.index += delta
        self._show()

    def action_toggle_differ(self) -> None:
        self.only_differ = not self.only_differ
        self.index = 0
        self._show()

    def action_close(self) -> None:
        self.dismiss(None)
