"""Special files as input: a FIFO, /dev/zero, a symlink loop or a folder where a file is expected.

Each used to hang (a FIFO blocks open until a writer comes), grow memory without
bound (/dev/zero) or print a traceback (a symlink loop). Now every command that
reads a user's file refuses anything but a regular file at once: exit 2 and one
line naming the path and what it is. Every run has a timeout, so a hang fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_helpers import finetui
from data_factory import write_jsonl
from model_folders import make_tiny_model

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace with a tiny model, good data and every kind of special file."""
    root = tmp_path_factory.mktemp("special")
    ws = root / "ws"
    finetui(ws, "model", "add", str(make_tiny_model(root / "tiny")), "--name", "tiny", timeout=300)
    write_jsonl(root / "good.jsonl", [GOOD] * 4)
    os.mkfifo(root / "fifo.yaml")
    os.mkfifo(root / "fifo.jsonl")
    os.mkfifo(root / "fifo.json")
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    (root / "folder.jsonl").mkdir()
    return root


SPECIALS = {
    "fifo": ("fifo.{ext}", "named pipe (FIFO)"),
    "dev-zero": ("/dev/zero", "is a device"),
    "symlink-loop": ("loop-a", "symlink loop"),
    "folder": ("folder.jsonl", "is a folder"),
}


def _path(root, kind: str, ext: str) -> str:
    name = SPECIALS[kind][0].format(ext=ext)
    return name if name.startswith("/") else str(root / name)


def _commands(root, bad: str) -> dict[str, list[str]]:
    good = str(root / "good.jsonl")
    return {
        "--spec": ["job", "submit", "--model", "tiny", "--train", good, "--spec", bad],
        "--train": ["job", "submit", "--model", "tiny", "--train", bad],
        "--test": ["job", "submit", "--model", "tiny", "--train", good, "--test", bad],
        "--request-file": ["endpoint", "invoke", "no-such-ep", "--request-file", bad],
        "data show": ["data", "show", bad],
        "data validate": ["data", "validate", bad],
        "compute check --spec": ["compute", "check", "tiny", "--spec", bad],
    }


@pytest.mark.parametrize("kind", list(SPECIALS))
@pytest.mark.parametrize("where", list(_commands(Path(), "")))
def test_special_files_are_refused_in_one_line(ws, kind, where):
    ext = {"--spec": "yaml", "compute check --spec": "yaml", "--request-file": "json"}.get(where, "jsonl")
    bad = _path(ws, kind, ext)
    proc = finetui(ws / "ws", *_commands(ws, bad)[where], check=False, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: ") and bad in proc.stderr and SPECIALS[kind][1] in proc.stderr, proc.stderr


def test_a_fifo_among_a_model_folders_weights_does_not_block(tmp_path):
    folder = make_tiny_model(tmp_path / "tiny")
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
        os.mkfifo(weights)
    proc = finetui(tmp_path / "ws", "model", "add", str(folder), "--json", check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr  # the parameter count falls back to config.json
    os.unlink(folder / "config.json")
    os.mkfifo(folder / "config.json")
    proc = finetui(tmp_path / "ws", "model", "add", str(folder), check=False, timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_oversized_request_files_are_refused(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate((16 << 20) + 1)  # sparse: costs no disk
    proc = finetui(tmp_path / "ws", "endpoint", "invoke", "no-such-ep", "--request-file", str(big), check=False, timeout=60)
    assert proc.returncode == 2 and "over the 16 MiB limit" in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_a_yaml_alias_bomb_in_a_model_folders_mlmodel_is_refused(tmp_path):
    from test_spec import BOMB

    folder = tmp_path / "evil-model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  transformers: {}\n" + BOMB)
    proc = finetui(tmp_path / "ws", "model", "add", str(folder), check=False, timeout=60)
    assert proc.returncode == 2 and "aliases" in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
