"""One unit system and one rounding for memory, everywhere it is shown: the `compute check` headline and
its list of reasons, `compute list`, the app's Compute pane, and bytes in JSON."""

from __future__ import annotations

import re

from cli_helpers import finetui, finetui_json
from model_folders import PHI3_CONFIG, make_tiny_model

SIZE = re.compile(r"(\d+(?:\.\d+)?) ?(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)\b")


def _sizes(text: str) -> list[str]:
    return [f"{n} {unit}" for n, unit in SIZE.findall(text)]


def _binary_only(text: str) -> None:
    found = _sizes(text)
    assert found, text
    decimal = [s for s in found if s.split()[1] in ("KB", "MB", "GB", "TB")]
    assert not decimal, f"decimal unit names in: {text}"
    assert all(re.fullmatch(r"\d+ B|\d+\.\d [KMGT]iB", s) for s in found), found  # one rounding: one decimal from KiB up


def _reason(reasons: list[str], start: str) -> str:
    return next(r for r in reasons if r.startswith(start))


def test_check_summary_list_app_and_json_agree(tmp_path):
    from finetui.core.local.backend import LocalBackend
    from finetui.core.units import size
    from finetui.tui.panes.compute import fit_text

    ws = tmp_path / "ws"
    # Phi-3-mini's dimensions on the CPU: gigabytes of weights and optimizer state, megabytes of overhead
    finetui(ws, "model", "add", str(make_tiny_model(tmp_path / "phi3", config=PHI3_CONFIG)))
    args = ("compute", "check", "phi3", "--target", "cpu", "--set", "max_seq_length=512")
    text = finetui(ws, *args, check=False).stdout
    _binary_only(text)
    headline, *listed = text.splitlines()
    reasons = [line.removeprefix("  - ") for line in listed if line.startswith("  - ")]
    total = _sizes(headline)[0]
    assert _sizes(_reason(reasons, "needs "))[0] == total, text  # the headline and the list say the same total

    report = finetui_json(ws, *args, check=False)
    est = report["estimate"]
    assert isinstance(est["total_bytes"], int) and size(est["total_bytes"]) == total  # JSON in bytes

    memory = finetui_json(ws, "compute", "list")[0]["memory_bytes"]
    assert isinstance(memory, int)
    listed_memory = finetui(ws, "compute", "list").stdout.splitlines()[1]
    assert size(memory) in listed_memory and f"cpu has {size(memory)} of RAM" in text

    # The app's Compute pane shows the same report through the same formatter.
    backend = LocalBackend(ws)
    spec = backend.resolve_spec("phi3", {"max_seq_length": 512}).spec
    pane = fit_text(backend.check_compute("phi3", spec, "cpu")).plain
    _binary_only(pane)
    assert f"needs about {total} of {size(memory)}" in pane
    parts = dict(re.findall(r"(weights|gradients|optimizer|activations|overhead) (\S+ \S+)", pane.split("\n")[3]))
    assert f"weights {parts['weights']} in fp32" in _reason(reasons, "weights ")
    assert _reason(reasons, "gradients ").startswith(f"gradients {parts['gradients']} and AdamW state {parts['optimizer']}")
    assert _reason(reasons, "activations ").startswith(f"activations {parts['activations']} at batch")
    assert _reason(reasons, "overhead ").startswith(f"overhead {parts['overhead']}")
