"""Hostile names: ``..``, ``/abs``, ``""``, ``a/b`` or a trailing newline never reach the file system.

`endpoint delete ..` used to empty the whole workspace (the folder was removed
before the name was checked). Every command that turns a user's name into a
path or a record key refuses such names with exit 2 and one line quoting the
value, and the sentinel files inside and outside the workspace survive.
"""

from __future__ import annotations

import pytest

from cli_helpers import finetui
from finetui.core.endpoint_options import LocalEndpointOptions
from finetui.core.errors import InvalidInput, NothingToDelete, quote
from finetui.core.local.backend import LocalBackend
from finetui.core.local.records import JobRecord
from finetui.core.names import check_name, check_ref, confined

BAD = ["..", "../../dir", "ABS", "", "a/b", "name\n", "trail\n:1"]

# one command per kind of name, through the real CLI in a subprocess
COMMANDS = {
    "endpoint": ["endpoint", "delete", "{}", "--yes"],
    "job": ["job", "show", "{}"],
    "registered model": ["model", "register", "--job", "no-such-job", "--name", "{}"],
    "model": ["model", "show", "{}"],
    "split": ["data", "fetch", "some/dataset", "--out", "OUT", "--split", "{}"],
}


@pytest.fixture
def sentinels(tmp_path):
    """A workspace with files that must survive, inside it and beside it; returns (ws, [paths])."""
    ws = tmp_path / "ws"
    LocalBackend(ws)  # lay the workspace out
    keep = [
        ws / "endpoints" / "keep" / "server.log",
        ws / "sentinel.txt",
        tmp_path / "dir" / "keep.txt",
        tmp_path / "abs" / "keep.txt",
        ws / "jobs" / "keep" / "user_logs" / "std_log.txt",
    ]
    for p in keep:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("keep me\n")
    return ws, keep


@pytest.mark.parametrize("kind", list(COMMANDS))
@pytest.mark.parametrize("value", BAD)
def test_hostile_names_exit_2_and_touch_nothing(sentinels, tmp_path, kind, value):
    if kind == "model" and value == "a/b":
        value = "a/b/c"  # org/name is a valid catalog name: see the next test
    ws, keep = sentinels
    value = str(tmp_path / "abs") if value == "ABS" else value
    args = [{"{}": value, "OUT": str(tmp_path / "out")}.get(a, a) for a in COMMANDS[kind]]
    proc = finetui(ws, *args, check=False, timeout=120)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("error: ") and quote(value) in proc.stderr, proc.stderr
    assert all(p.read_text() == "keep me\n" for p in keep)
    assert not (tmp_path / "out").exists()


def test_a_catalog_name_may_be_org_slash_name(sentinels):
    ws, keep = sentinels
    # a well-formed org/name that is not in the catalog: a plain "not found" (bad input, exit 2), not a rejected name
    proc = finetui(ws, "model", "show", "a/b", check=False, timeout=120)
    assert proc.returncode == 2 and "no model named 'a/b'" in proc.stderr
    assert all(p.exists() for p in keep)


def test_deleting_a_name_without_a_record_deletes_nothing(sentinels):
    ws, keep = sentinels
    proc = finetui(ws, "endpoint", "delete", "keep", "--yes", check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.strip()
        == f"error: no endpoint named 'keep' in workspace {ws.resolve()}; nothing to delete (`finetui endpoint list` shows them)"
    )
    assert all(p.read_text() == "keep me\n" for p in keep)
    with pytest.raises(NothingToDelete):
        LocalBackend(ws).delete_endpoint("keep")
    assert keep[0].exists()


@pytest.mark.parametrize("value", ["..", "../../dir", "/abs", "", "a/b", "name\n", "trail\n:1", ".", "x" * 300])
def test_every_local_command_checks_the_name_first(sentinels, value):
    """The rest of the commands, in process: each refuses the name before any file or record is touched."""
    ws, keep = sentinels
    b = LocalBackend(ws)
    calls = [
        lambda: b.endpoints.create(value, "m", LocalEndpointOptions(wait=False)),
        lambda: b.endpoints.restart(value),
        lambda: b.endpoints.keys(value),
        lambda: b.endpoints.logs(value),
        lambda: b.endpoints.info(value),
        lambda: b.endpoints.regenerate_keys(value, "primary"),
        lambda: b.endpoints.invoke(value, {}),
        lambda: b.get_job(value),
        lambda: b.read_log(value),
        lambda: b.job_metrics(value),
        lambda: b.cancel_job(value),
        lambda: b.paths.job_dir(value),
        lambda: b.paths.endpoint_dir(value),
        lambda: b.register_model("no-such-job", value),
    ]
    if value != "a/b":  # a valid catalog name (org/name)
        calls += [lambda: b.get_model(value), lambda: b.catalog.pull(value), lambda: b.registry.get(value)]
    for call in calls:
        with pytest.raises(InvalidInput) as info:
            call()
        assert quote(value) in str(info.value) and "\n" not in str(info.value)
    assert all(p.read_text() == "keep me\n" for p in keep)


def test_model_register_refuses_a_name_ending_in_a_newline(sentinels, tmp_path):
    ws, _keep = sentinels
    b = LocalBackend(ws)
    output = tmp_path / "job-output"
    output.mkdir()
    (output / "MLmodel").write_text("flavors: {}\n")
    b.store.put_job(
        JobRecord.from_dict(
            {
                "name": "done-job",
                "display_name": "d",
                "status": "Completed",
                "backend": "local",
                "model": "m:1",
                "train_file": "t.jsonl",
                "spec": {},
                "created_at": 0.0,
                "output_path": str(output),
                "job_dir": str(b.paths.job_dir("done-job")),
            }
        )
    )
    for bad in ("trail\n", "trail\n:1"):
        proc = finetui(ws, "model", "register", "--job", "done-job", "--name", bad, check=False, timeout=120)
        assert proc.returncode == 2 and quote(bad) in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert not list((ws / "registry").iterdir())
    assert finetui(ws, "model", "register", "--job", "done-job", "--name", "trail").stdout.strip() == "trail:1"
    assert [r["name"] for r in b.store.list_registered()] == ["trail"]


def test_name_rules():
    assert check_name("endpoint", "my-endpoint-1") == "my-endpoint-1"
    assert check_ref("model", "org/name:3") == ("org/name", "3")
    assert check_ref("registered model", "demo.ft_2") == ("demo.ft_2", "")
    for kind, bad in [
        ("endpoint", "ab"),
        ("endpoint", "a-"),
        ("endpoint", "1abc"),
        ("job", "a.b"),
        ("registered model", "a/b"),
        ("model", "a/b/c"),
        ("split", "train[:5%]"),
        ("job", "ok\n"),
    ]:
        with pytest.raises(InvalidInput):
            check_name(kind, bad)
    with pytest.raises(InvalidInput):
        check_ref("model", "name:\n")


def test_confined_refuses_a_symlink_out_of_its_folder(tmp_path):
    parent = tmp_path / "endpoints"
    parent.mkdir()
    (parent / "inside").mkdir()
    (parent / "escape").symlink_to(tmp_path)
    assert confined(parent, "endpoint", "inside") == parent / "inside"
    with pytest.raises(InvalidInput, match="resolves outside"):
        confined(parent, "endpoint", "escape")
