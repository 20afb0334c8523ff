"""`finetui model` and `finetui compute` through the real CLI: output and exit codes."""

from __future__ import annotations

import json

from cli_helpers import finetui, finetui_json
from model_folders import TINY_PARAMS, make_hf_cache, make_tiny_model


def test_model_add_list_show(tmp_path):
    ws, cache = tmp_path / "ws", tmp_path / "hub"
    make_hf_cache(cache, "org/cached")
    env = {"HF_HUB_CACHE": str(cache)}
    folder = make_tiny_model(tmp_path / "tiny")

    assert finetui(ws, "model", "add", str(folder), env=env).stdout.strip() == "tiny:1"
    added = finetui_json(ws, "model", "add", str(folder), env=env)
    assert added["ref"] == "tiny:2" and added["parameter_count"] == TINY_PARAMS

    listed = finetui_json(ws, "model", "list", env=env)
    assert {(m["name"], m["source"]) for m in listed} == {("tiny", "local-path"), ("org/cached", "hf-cache")}
    table = finetui(ws, "model", "list", "--filter", "tiny", env=env).stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "SOURCE", "PARAMS", "CONTEXT", "SIZE"]
    assert len(table) == 3 and all(line.startswith("tiny") for line in table[1:])

    shown = finetui(ws, "model", "show", "tiny", env=env).stdout
    assert "version" in shown and "2" in shown and "LlamaForCausalLM" in shown and "tags:" in shown


def test_model_errors_exit_codes(tmp_path):
    ws = tmp_path / "ws"
    missing = finetui(ws, "model", "show", "nope", check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no model named 'nope'")
    assert len(missing.stderr.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    bad = finetui(ws, "model", "add", str(tmp_path / "empty"), check=False)
    assert bad.returncode == 2 and "no config.json" in bad.stderr
    offline = finetui(ws, "model", "pull", "org/x", check=False, env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert offline.returncode == 1 and "cannot pull org/x" in offline.stderr
    unknown_job = finetui(ws, "model", "register", "--job", "no-such-job", "--name", "x", check=False)
    assert unknown_job.returncode == 2 and "no-such-job" in unknown_job.stderr


def test_compute_list_and_check(tmp_path):
    ws = tmp_path / "ws"
    targets = finetui_json(ws, "compute", "list")
    assert targets[0]["name"] == "cpu" and targets[0]["cpu_cores"] >= 1
    finetui(ws, "model", "add", str(make_tiny_model(tmp_path / "tiny")))

    ok = finetui(ws, "compute", "check", "tiny", "--target", "cpu", "--set", "max_seq_length=64")
    assert ok.returncode == 0 and ok.stdout.startswith("OK: tiny:1 on cpu")
    assert "64 tokens" in ok.stdout

    spec = tmp_path / "spec.yaml"
    spec.write_text("per_device_train_batch_size: 2\napply_lora: false\n")
    report = finetui_json(ws, "compute", "check", "tiny", "--target", "cpu", "--spec", str(spec))
    assert report["verdict"] == "ok" and report["spec"]["apply_lora"] is False
    assert report["estimate"]["trainable_parameters"] == TINY_PARAMS

    # A spec whose activations alone exceed any RAM: exit 1, and the suggestion is a max_seq_length
    huge = finetui(
        ws,
        "compute",
        "check",
        "tiny",
        "--target",
        "cpu",
        "--set",
        "per_device_train_batch_size=4096",
        "--set",
        "max_seq_length=1048576",
        check=False,
    )
    assert huge.returncode == 1 and huge.stdout.startswith("DOES NOT FIT")
    assert "suggestion:" in huge.stdout

    bad_key = finetui(ws, "compute", "check", "tiny", "--set", "lora_rr=4", check=False)
    assert bad_key.returncode == 2 and "lora_rr" in bad_key.stderr and "lora_r" in bad_key.stderr
    bad_target = finetui(ws, "compute", "check", "tiny", "--target", "tpu", check=False)
    assert bad_target.returncode == 2 and "available: cpu" in bad_target.stderr


def test_compute_check_reports_model_default_overrides(tmp_path):
    from finetui.core.local.catalog import LocalCatalog
    from finetui.core.local.store import Store
    from finetui.core.workspace import WorkspacePaths

    paths = WorkspacePaths(tmp_path / "ws").ensure()
    LocalCatalog(paths, Store(paths.db)).add_path(
        make_tiny_model(tmp_path / "tiny"), model_specific_defaults={"apply_deepspeed": "false", "max_seq_length": 64}
    )
    out = finetui(paths.root, "compute", "check", "tiny", "--target", "cpu").stdout
    assert "model default: apply_deepspeed True -> False (kept)" in out
    assert "model default: max_seq_length -1 -> 64 (kept)" in out
    data = finetui_json(paths.root, "compute", "check", "tiny", "--target", "cpu", "--set", "max_seq_length=32")
    by_key = {o["key"]: o for o in data["overrides"]}
    assert by_key["max_seq_length"]["by"] == "user" and by_key["max_seq_length"]["final"] == 32
    assert json.dumps(data)  # plain JSON all the way down
