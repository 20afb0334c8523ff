"""FineTuneSpec: precedence, the tutorial's display name, errors that name the key, files, --set."""

from __future__ import annotations

import json

import pytest

from finetui.core.errors import InvalidInput, SpecError
from finetui.core.spec import FineTuneSpec, parse_model_defaults, parse_set_options, read_mapping, resolve_spec


def test_defaults_are_the_tutorials():
    spec = FineTuneSpec()
    assert (spec.num_train_epochs, spec.per_device_train_batch_size, spec.learning_rate) == (3, 1, 5e-6)
    assert (spec.lr_scheduler_type, spec.apply_lora, spec.apply_deepspeed, spec.deepspeed_stage) == ("cosine", True, True, 2)


def test_display_name_follows_the_tutorial():
    assert FineTuneSpec().display_name("Phi-3-mini-4k-instruct") == (
        "Phi-3-mini-4k-instruct-ultrachat-bs1-cosine-ds2-lora-save_limit-1-seqlen-1"
    )
    spec = FineTuneSpec(
        per_device_train_batch_size=2, gradient_accumulation_steps=4, num_nodes_finetune=2,
        apply_deepspeed=False, apply_lora=False, lr_scheduler_type="linear", save_total_limit=3, max_seq_length=2048,
    )
    # batch = per-device × accumulation × GPUs per node × nodes
    assert spec.display_name("m", gpus_per_node=4) == "m-ultrachat-bs64-linear-nods-nolora-save_limit3-seqlen2048"
    assert FineTuneSpec(deepspeed_stage=3).display_name("m").split("-")[4] == "ds3"


def test_model_defaults_override_and_are_reported():
    resolved = resolve_spec("{'learning_rate': 2e-5, 'apply_deepspeed': 'false', 'deepspeed_stage': 2, 'custom': 1}")
    assert resolved.spec.learning_rate == 2e-5 and resolved.spec.apply_deepspeed is False
    by_key = {o.key: o for o in resolved.overrides}
    assert set(by_key) == {"learning_rate", "apply_deepspeed"}  # deepspeed_stage 2 is no change
    assert (by_key["learning_rate"].default, by_key["learning_rate"].model_value, by_key["learning_rate"].by) == (5e-6, 2e-5, "model")
    assert resolved.passthrough == {"custom": 1}

    user = resolve_spec({"learning_rate": 1e-4}, {"learning_rate": 3e-4}, user_source="spec.yaml")
    (o,) = user.overrides
    assert o.final == 3e-4 and o.by == "user" and user.spec.learning_rate == 3e-4


def test_bad_model_defaults_warn_but_do_not_stop():
    assert resolve_spec("not python(").warnings and resolve_spec("not python(").spec == FineTuneSpec()
    assert "not a mapping" in parse_model_defaults("[1, 2]")[1]
    bad_value = resolve_spec({"learning_rate": "fast"})
    assert bad_value.spec == FineTuneSpec() and "learning_rate" in bad_value.warnings[0]


@pytest.mark.parametrize(
    "data, key, words",
    [
        ({"learnin_rate": 1e-5}, "learnin_rate", "did you mean learning_rate"),
        ({"num_train_epochs": "three"}, "num_train_epochs", "expected a number"),
        ({"per_device_train_batch_size": 1.5}, "per_device_train_batch_size", "whole number"),
        ({"per_device_train_batch_size": 0}, "per_device_train_batch_size", "out of range: must be at least 1"),
        ({"learning_rate": 0}, "learning_rate", "greater than 0"),
        ({"max_seq_length": 4}, "max_seq_length", "or -1 for the default"),
        ({"deepspeed_stage": 4}, "deepspeed_stage", "not one of 1, 2, 3"),
        ({"apply_lora": "yes"}, "apply_lora", "true or false"),
        ({"lr_scheduler_type": "fancy"}, "lr_scheduler_type", "not one of"),
        ({"lora_target_modules": [1]}, "lora_target_modules", "list of module names"),
        ({"warmup_ratio": 2}, "warmup_ratio", "at most 1"),
        ({"num_train_epochs": float("nan")}, "num_train_epochs", "expected a number"),
        ({"apply_deepspeed": 1}, "apply_deepspeed", "true or false"),
    ],
)
def test_errors_name_the_key(data, key, words):
    with pytest.raises(SpecError) as info:
        FineTuneSpec.from_mapping(data, source="spec.yaml")
    assert info.value.key == key
    assert str(info.value).startswith(f"spec.yaml: {key}: ") and words in str(info.value)
    assert info.value.exit_code == 2


def test_non_text_keys_are_reported_not_crashed():
    with pytest.raises(SpecError, match="1: unknown parameter"):
        FineTuneSpec.from_mapping({1: 2})


def test_strings_from_tags_and_set_are_coerced():
    spec = FineTuneSpec.from_mapping(
        {"apply_lora": "False", "learning_rate": "5e-5", "max_steps": "100", "lora_target_modules": "q_proj, v_proj"}
    )
    assert spec.apply_lora is False and spec.learning_rate == 5e-5 and spec.max_steps == 100
    assert spec.lora_target_modules == ("q_proj", "v_proj")
    assert FineTuneSpec.from_mapping({"per_device_train_batch_size": 4.0}).per_device_train_batch_size == 4


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_round_trip(tmp_path, suffix):
    spec = FineTuneSpec(learning_rate=2e-5, max_seq_length=1024, apply_lora=False, lora_target_modules=("q_proj", "k_proj"))
    path = tmp_path / f"spec{suffix}"
    spec.save(path)
    assert FineTuneSpec.load(path) == spec
    if suffix == ".json":
        assert json.loads(path.read_text())["lora_target_modules"] == ["q_proj", "k_proj"]
    assert not list(tmp_path.glob("*.tmp"))


def test_read_mapping_errors_name_file_and_line(tmp_path):
    bad_yaml = tmp_path / "s.yaml"
    bad_yaml.write_text("learning_rate: 1e-5\nlora_r: [8\n")
    with pytest.raises(InvalidInput, match=r"s\.yaml: line \d+: invalid YAML"):
        read_mapping(bad_yaml)
    bad_json = tmp_path / "s.json"
    bad_json.write_text('{\n  "lora_r": 8,\n}')
    with pytest.raises(InvalidInput, match=r"s\.json: line 3: invalid JSON"):
        read_mapping(bad_json)
    listing = tmp_path / "l.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(InvalidInput, match="expected a mapping"):
        read_mapping(listing)
    with pytest.raises(InvalidInput, match="file not found"):
        read_mapping(tmp_path / "missing.yaml")
    empty = tmp_path / "e.yaml"
    empty.write_text("")
    assert read_mapping(empty) == {}
    out_of_range = tmp_path / "r.yaml"
    out_of_range.write_text("lora_r: 9\nlora_alpha: 0\n")
    with pytest.raises(SpecError, match=r"r\.yaml: lora_alpha: 0 is out of range"):
        FineTuneSpec.load(out_of_range)


def test_parse_set_options():
    values = parse_set_options(["num_train_epochs=1", "learning_rate=5e-5", "apply_lora=false", "lora_target_modules=q_proj,v_proj", "lr_scheduler_type=linear", "x=a=b"])
    assert values["num_train_epochs"] == 1 and values["apply_lora"] is False and values["x"] == "a=b"
    spec = FineTuneSpec.from_mapping({k: v for k, v in values.items() if k != "x"}, source="--set")
    assert spec.learning_rate == 5e-5 and spec.lora_target_modules == ("q_proj", "v_proj")
    for bad in ("novalue", "=3"):
        with pytest.raises(InvalidInput, match="expected KEY=VALUE"):
            parse_set_options([bad])


def test_pipeline_parameters_in_the_components_form():
    params = FineTuneSpec().pipeline_parameters()
    assert params["apply_lora"] == "true" and params["apply_deepspeed"] == "true"
    assert "max_steps" not in params and "max_seq_length" not in params and "seed" not in params
    assert FineTuneSpec(max_seq_length=512).pipeline_parameters()["max_seq_length"] == 512
