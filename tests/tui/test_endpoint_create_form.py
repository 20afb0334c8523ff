"""The app's endpoint create form: a time to live, read by the CLI's own --ttl parser and passed through core;
and how the form reads at 80x24, in colour and under NO_COLOR."""

from __future__ import annotations

import pytest
from test_app_panes import app_for, text_of
from test_snapshots import footer_keys, shown_bindings
from textual.widgets import DataTable, Input
from tui_fixtures import T0, screen_text, wait_for

from finetui.core.models import RegisteredModel
from finetui.tui.screens import PickScreen, PromptScreen


async def _open_form(pilot) -> PromptScreen:
    app = pilot.app
    await wait_for(pilot, lambda: app.mounted and app.selected_model is not None)
    await pilot.press("5", "c")
    await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
    await pilot.press("enter")  # the registered model
    await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
    return app.screen


async def test_create_form_takes_a_ttl_and_refuses_a_bad_one_in_place(fixed_backend):
    fixed_backend.registered = [RegisteredModel("tiny-chat-ft", "1", "/registry/tiny-chat-ft/1", "job", "tiny-chat:1", T0)]
    app = app_for(fixed_backend)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await _open_form(pilot)
        ttl = form.query_one("#prompt-ttl", Input)
        for bad, message in (
            ("soon", "time to live 'soon': use a number with s, m, h or d, e.g. 30m"),
            ("2h\n", "time to live '2h\\n': use a number with s, m, h or d, e.g. 30m"),
            ("400d", "time to live 34560000.0: use a positive time of at most 366 days, e.g. 2h"),
        ):
            ttl.value = bad
            await pilot.press("enter")
            await pilot.pause()
            assert str(form.query_one("#prompt-error").content) == message
            assert app.screen is form and app.focused is ttl  # the form stays, on the field to fix
        assert len(fixed_backend.endpoints) == 1  # nothing was created

        ttl.value = "2h"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fixed_backend.endpoints) == 2)
        created = fixed_backend.endpoints[1]
        assert (created.name, created.ttl_s) == ("tiny-chat-ft-ep", 7200.0)
        table = app.query_one("#endpoint-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        table.focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: "tiny-chat-ft-ep" in text_of(app, "#endpoint-details"))
        assert "Time to live 2h00m, ends in 1h59m" in text_of(app, "#endpoint-details")


async def test_create_form_without_a_ttl_creates_an_endpoint_that_does_not_expire(fixed_backend):
    fixed_backend.registered = [RegisteredModel("tiny-chat-ft", "1", "/registry/tiny-chat-ft/1", "job", "tiny-chat:1", T0)]
    app = app_for(fixed_backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open_form(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fixed_backend.endpoints) == 2)
        assert fixed_backend.endpoints[1].ttl_s is None and fixed_backend.endpoints[1].expires_at is None


async def test_create_form_shows_the_models_evaluation_and_warns_when_it_did_not_beat_its_base(fixed_backend):
    from finetui.core.evaluate import DeployGate

    fixed_backend.registered = [RegisteredModel("tiny-chat-ft", "1", "/registry/tiny-chat-ft/1", "job", "tiny-chat:1", T0)]
    said = "tiny-chat-ft:1 did not beat its base in evaluation ev-1 (loss 2.10 vs 1.90)"
    fixed_backend.gates["tiny-chat-ft:1"] = DeployGate("tiny-chat-ft:1", "ev-1", False, said, True)
    app = app_for(fixed_backend)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await _open_form(pilot)
        title = str(form.query_one("#prompt-title").content)
        assert title == f"warning: {said}\nDeploy tiny-chat-ft:1 as endpoint:"
        assert form.has_class("warned")
        await pilot.press("enter")  # the user may still deploy: the gate warns, it does not refuse
        await wait_for(pilot, lambda: len(fixed_backend.endpoints) == 2)

    better = "tiny-chat-ft:1 beat its base in evaluation ev-2 (loss 0.47 vs 3.10)"
    fixed_backend.gates["tiny-chat-ft:1"] = DeployGate("tiny-chat-ft:1", "ev-2", True, better, False)
    app = app_for(fixed_backend)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await _open_form(pilot)
        assert str(form.query_one("#prompt-title").content).startswith(f"evaluation: {better}\n")
        assert not form.has_class("warned")


async def test_at_80_columns_a_long_refusal_wraps_in_the_form_instead_of_losing_its_end(fixed_backend):
    fixed_backend.registered = [RegisteredModel("tiny-chat-ft", "1", "/registry/tiny-chat-ft/1", "job", "tiny-chat:1", T0)]
    app = app_for(fixed_backend)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot)
        form.query_one("#prompt-ttl", Input).value = "400d"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(str(form.query_one("#prompt-error").content)))
        await pilot.pause()
        shown = " ".join(" ".join(line.strip(" █▌▐").split()) for line in screen_text(app).splitlines())
        assert "time to live 34560000.0: use a positive time of at most 366 days, e.g. 2h" in shown
        assert "after this long without requests; empty: none" in shown  # the labels too


async def _form_shown(pilot) -> None:
    """A run_before script: the form open on a fixed model, settled for a snapshot."""
    app = pilot.app
    form = await _open_form(pilot)
    for field in form.query(Input):  # a blinking cursor would make the snapshot depend on timing
        field.cursor_blink = False
    await wait_for(pilot, lambda: app.focused is form.query_one("#prompt-input", Input))
    # the footer (the pane's, beneath the dialog) follows focus a refresh later: wait for it, not a fixed pause
    base = app.screen_stack[0]
    await wait_for(pilot, lambda: footer_keys(base) == shown_bindings(base))
    await pilot.pause(0.1)


@pytest.mark.parametrize("color", ["color", "no_color", "warned_no_color"])
def test_create_form_snapshot_80x24(snap_compare, fixed_backend, monkeypatch, color):
    """Every field's label (name, time to live, idle timeout) fits at 80x24, and reads without colour too;
    so does the evaluation gate's warning above them (in words, not only the border's colour)."""
    from finetui.core.evaluate import DeployGate

    if color != "color":
        monkeypatch.setenv("NO_COLOR", "1")
    fixed_backend.registered = [RegisteredModel("tiny-chat-ft", "1", "/registry/tiny-chat-ft/1", "job", "tiny-chat:1", T0)]
    if color == "warned_no_color":
        said = "tiny-chat-ft:1 was never evaluated: `finetui eval tiny-chat-ft:1 --test FILE`"
        fixed_backend.gates["tiny-chat-ft:1"] = DeployGate("tiny-chat-ft:1", None, None, said, True)
    assert snap_compare(app_for(fixed_backend), terminal_size=(80, 24), run_before=_form_shown)
