"""The Backend protocol is the whole contract: every backend defines every operation, and tui/ never probes one.

A runtime_checkable ``isinstance`` only checks that the names exist, so the
members are walked here: each is defined on each backend class, and each
declared parameter is one the implementation takes.
"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import pytest

from finetui.core.azure.backend import AzureBackend
from finetui.core.backend import Backend
from finetui.core.errors import Unsupported
from finetui.core.local.backend import LocalBackend

sys.path.insert(0, str(Path(__file__).parent / "tui"))
from tui_fixtures import FixedBackend  # noqa: E402

TUI = Path(__file__).resolve().parents[1] / "tui"


def protocol_members() -> list[str]:
    names = {n for n in Backend.__dict__ if not n.startswith("_")} | set(Backend.__annotations__)
    return sorted(names)


def test_the_protocol_declares_the_operations_the_uis_use() -> None:
    assert {
        "create_endpoint",
        "invoke_endpoint",
        "endpoint_logs",
        "restart_endpoint",
        "regenerate_endpoint_keys",
        "add_model",
        "pull_model",
        "resume_job",
        "extend_job",
        "job_checkpoints",
        "plan_job",
        "register_checkpoint",
        "list_evals",
        "evaluation_gate",
        "job_evaluation",
        "data_folder",
        "state_folder",
        "azure_target",
        "endpoint_info",
        "build_demo",
    } <= set(protocol_members())


@pytest.mark.parametrize("cls", [LocalBackend, AzureBackend, FixedBackend], ids=lambda c: c.__name__)
def test_each_backend_defines_every_member_with_its_parameters(cls: type) -> None:
    for member in protocol_members():
        if member == "name":
            assert isinstance(getattr(cls, "name", None), str), f"{cls.__name__}.name"
            continue
        impl = getattr(cls, member, None)
        assert callable(impl), f"{cls.__name__} lacks {member}()"
        declared = inspect.signature(getattr(Backend, member)).parameters
        taken = inspect.signature(impl).parameters
        if any(p.kind is p.VAR_KEYWORD for p in taken.values()):
            continue
        missing = [p for p in declared if p not in taken]
        assert not missing, f"{cls.__name__}.{member}() does not take {missing}"


def test_a_local_backend_is_a_backend(tmp_path: Path) -> None:
    assert isinstance(LocalBackend(tmp_path / "ws"), Backend)
    assert isinstance(FixedBackend(tmp_path / "fixed"), Backend)


def test_an_operation_a_backend_lacks_is_refused_by_name(tmp_path: Path) -> None:
    azure = AzureBackend(subscription_id="sub", resource_group="rg", workspace_name="ws", credential=object())
    with pytest.raises(Unsupported, match=r"^the azure backend cannot resume jobs yet; use --backend local$"):
        azure.resume_job("job-1")
    with pytest.raises(Unsupported, match="cannot run evaluations yet"):
        azure.list_evals()
    local = LocalBackend(tmp_path / "ws")
    with pytest.raises(Unsupported, match="only --backend azure submits a job description"):
        local.plan_job(None)  # type: ignore[arg-type]
    assert Unsupported("x").exit_code == 2


# Reach-ins allowed by (file, attribute name): none.
OTHERS: set[tuple[str, str]] = set()


def _ends_in_backend(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.lower().endswith("backend")


def backend_probes() -> list[str]:
    found = []
    for path in sorted(TUI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and node.args
                and _ends_in_backend(node.args[0])
            ):  # nested getattr calls are walked too
                rel = path.relative_to(TUI).as_posix()
                key = ast.unparse(node.args[1]) if len(node.args) > 1 else ""
                if (rel, key) not in OTHERS:
                    found.append(f"tui/{rel}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_tui_never_probes_a_backend() -> None:
    assert backend_probes() == []


def test_the_probe_check_catches_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.py").write_text(
        'if hasattr(ctx.backend, "resume_job"):\n    pass\nroot = getattr(getattr(self.backend, "paths", None), "data", None)\n'
    )
    monkeypatch.setattr(sys.modules[__name__], "TUI", tmp_path)
    assert [line.split(": ", 1)[0] for line in backend_probes()] == ["tui/x.py:1", "tui/x.py:3"]
