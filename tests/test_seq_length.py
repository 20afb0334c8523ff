"""One truth about sequence length: the estimate, the validator, the launch form and the trainer agree.

The model is a tiny Llama with an 8k context and the tutorial's ``max_seq_length: -1``,
which the local trainer caps at 1024 tokens.
"""

from __future__ import annotations


import pytest
from chatml_model import build_chatml_llama, facts_rows, write_rows
from cli_helpers import finetui, finetui_json

from finetui.core.seq_length import DEFAULT_MAX_LENGTH, job_sequence_length
from finetui.core.spec import FineTuneSpec


@pytest.fixture(scope="module")
def long_context(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctx8k")
    folder = build_chatml_llama(root / "llama8k", context=8192)
    ws = root / "ws"
    ref = finetui(ws, "model", "add", str(folder)).stdout.strip()
    return ws, ref, folder, root


def test_the_rule():
    assert job_sequence_length(-1, 8192).max_length == DEFAULT_MAX_LENGTH == 1024
    assert job_sequence_length(-1, 512).max_length == 512
    assert job_sequence_length(-1, None).max_length == 1024
    assert job_sequence_length(2048, 8192).max_length == 2048
    assert job_sequence_length(-1, 8192, cap=None).max_length == 8192  # Azure ML's pipeline
    assert job_sequence_length(-1, 8192, longest_row=300).peak == 300
    assert job_sequence_length(256, 8192, longest_row=300).peak == 256


def test_estimate_validator_form_and_trainer_agree_for_an_8k_model(long_context):
    from transformers import AutoConfig

    from finetui.core.local.backend import LocalBackend
    from finetui.core.local.train_setup import resolve_max_length

    ws, ref, folder, root = long_context
    # the trainer
    assert resolve_max_length(FineTuneSpec(), AutoConfig.from_pretrained(folder)) == 1024

    # the estimate (compute check) sizes activations for 1024 tokens, not the 8192-token context
    report = finetui_json(ws, "compute", "check", ref)
    assert any("× 1024 tokens" in r for r in report["reasons"]), report["reasons"]
    assert not any("8192 tokens" in r and "activations" in r for r in report["reasons"])

    # the validator counts rows against the job's 1024, and against the spec's own length when set
    data = write_rows(root / "d.jsonl", facts_rows())
    out = finetui(ws, "data", "validate", str(data), "--model", ref).stdout
    assert "0 row(s) over max_seq_length 1024" in out
    spec = root / "spec.yaml"
    spec.write_text("max_seq_length: 16\n", encoding="utf-8")
    stats = finetui_json(ws, "data", "validate", str(data), "--model", ref, "--spec", str(spec))["token_stats"]
    assert stats["max_seq_length"] == 16 and stats["over_max"] == len(facts_rows())

    # the launch form says the same
    resolved = LocalBackend(ws).resolve_spec(ref)
    assert resolved.context_length == 8192
    assert job_sequence_length(resolved.spec.max_seq_length, resolved.context_length).max_length == 1024


async def test_launch_form_shows_the_jobs_length(long_context):
    from textual.widgets import Label
    from widget_app import WidgetApp

    from finetui.core.local.backend import LocalBackend
    from finetui.tui.widgets.spec_form import SpecForm

    ws, ref, _, _ = long_context
    resolved = LocalBackend(ws).resolve_spec(ref)

    app = WidgetApp(SpecForm)
    async with app.run_test(size=(120, 40)) as pilot:
        form = app.query_one(SpecForm)
        form.set_resolved(resolved)
        await pilot.pause()
        note = str(form.query_one("#note-max_seq_length", Label).content)
        assert note.startswith("job uses 1024 tokens") and "8192" in note
        form.query_one("#spec-max_seq_length").value = "512"
        await pilot.pause()
        assert str(form.query_one("#note-max_seq_length", Label).content).startswith("job uses 512 tokens")


def test_fit_uses_the_datas_longest_row(long_context):
    from finetui.core.compute_fit import check_fit
    from finetui.core.local.backend import LocalBackend
    from finetui.core.models import ComputeTarget

    ws, ref, _, _ = long_context
    model = LocalBackend(ws).get_model(ref)
    cpu = ComputeTarget(name="cpu", kind="cpu", cpu_cores=2, memory_bytes=16 * 10**9)
    whole = check_fit(model, FineTuneSpec(), cpu)
    short = check_fit(model, FineTuneSpec(), cpu, longest_row=40)
    assert short.estimate.activations_bytes * 20 < whole.estimate.activations_bytes
    assert any("the longest row is 40 tokens" in r and "× 40 tokens" not in r for r in short.reasons)
    assert any("activations" in r and "× 40 tokens" in r for r in short.reasons)


def test_job_submit_checks_only_the_first_rows_of_a_big_file(long_context, monkeypatch):
    from finetui.core.local import jobs
    from finetui.core.local.backend import LocalBackend

    ws, ref, _, root = long_context
    monkeypatch.setattr(jobs, "CHECK_ROWS", 3)
    data = write_rows(root / "many.jsonl", facts_rows() * 2)
    check = jobs._check_data(LocalBackend(ws).get_model(ref), FineTuneSpec(), data)
    assert check.sampled and check.rows == 3 and check.method == "derived" and check.max_length == 1024
    assert "0 of the first 3 row(s) over max_length 1024" in check.summary()
