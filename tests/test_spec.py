"""FineTuneSpec: precedence, the tutorial's display name, errors that name the key, files, --set."""

from __future__ import annotations

import json
import time

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
        per_device_train_batch_size=2,
        gradient_accumulation_steps=4,
        num_nodes_finetune=2,
        apply_deepspeed=False,
        apply_lora=False,
        lr_scheduler_type="linear",
        save_total_limit=3,
        max_seq_length=2048,
    )
    # batch = per-device × accumulation × GPUs per node × nodes
    assert spec.display_name("m", gpus_per_node=4) == "m-ultrachat-bs64-linear-nods-nolora-save_limit3-seqlen2048"
    assert FineTuneSpec(deepspeed_stage=3).display_name("m").split("-")[4] == "ds3"


def test_every_key_is_declared_once_with_its_rule():
    import dataclasses

    from finetui.core import spec as spec_module

    fields = dataclasses.fields(FineTuneSpec)
    assert all(isinstance(f.metadata.get("rule"), spec_module._Rule) for f in fields), "a spec field has no rule"
    assert set(spec_module._RULES) == set(spec_module.SPEC_KEYS) == {f.name for f in fields}
    assert set(spec_module.LOCAL_ONLY_KEYS) <= spec_module.SPEC_KEYS


def test_a_field_without_a_rule_is_refused_at_import():
    import dataclasses

    from finetui.core import spec as spec_module

    @dataclasses.dataclass(frozen=True)
    class Grown(FineTuneSpec):
        new_knob: int = 1

    with pytest.raises(KeyError, match="rule"):
        spec_module.rules_of(Grown)


def test_model_defaults_override_and_are_reported():
    resolved = resolve_spec("{'learning_rate': 2e-5, 'apply_deepspeed': 'false', 'deepspeed_stage': 2, 'custom': 1}")
    assert resolved.spec.learning_rate == 2e-5 and resolved.spec.apply_deepspeed is False
    by_key = {o.key: o for o in resolved.overrides}
    assert set(by_key) == {"learning_rate", "apply_deepspeed"}  # deepspeed_stage 2 is no change
    assert (by_key["learning_rate"].default, by_key["learning_rate"].model_value, by_key["learning_rate"].by) == (
        5e-6,
        2e-5,
        "model",
    )
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
        ({"num_train_epochs": float("nan")}, "num_train_epochs", "must be a finite number, got nan"),
        ({"learning_rate": "-inf"}, "learning_rate", "must be a finite number, got -inf"),
        ({"max_steps": float("nan")}, "max_steps", "must be a finite number, got nan"),
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
    assert FineTuneSpec.from_mapping(read_mapping(path), source=str(path)) == spec
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
        FineTuneSpec.from_mapping(read_mapping(out_of_range), source=str(out_of_range))


def test_parse_set_options():
    values = parse_set_options(
        [
            "num_train_epochs=1",
            "learning_rate=5e-5",
            "apply_lora=false",
            "lora_target_modules=q_proj,v_proj",
            "lr_scheduler_type=linear",
            "x=a=b",
        ]
    )
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


# 9 levels of 9 aliases: 344 bytes that expand to 9**9 strings (gigabytes once copied or printed)
BOMB = (
    "\n".join(
        ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    )
    + "\n"
)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    from cli_helpers import finetui

    spec = tmp_path / "bomb.yaml"
    spec.write_text(BOMB)
    assert len(BOMB) < 400
    started = time.monotonic()
    proc = finetui(
        tmp_path / "ws", "job", "submit", "--model", "m", "--train", "t.jsonl", "--spec", str(spec), check=False, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - started < 60  # the bomb took 75 s and 3 GB; the refusal is one parse
    assert proc.stderr.startswith(f"error: {spec}: line 2: invalid YAML: aliases (*a) are not allowed")
    assert len(proc.stderr) < 300 and len(proc.stderr.splitlines()) == 1
    # --set takes a value that is not plain YAML as text, so an alias there stays unexpanded text
    assert parse_set_options(["k=[&x [a, b], *x, *x]"]) == {"k": "[&x [a, b], *x, *x]"}


def test_spec_files_are_capped(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# pad\n" * 200_000 + "lora_r: 8\n")
    with pytest.raises(InvalidInput, match=r"big\.yaml: is 1\.1 MiB, over the 1 MiB limit"):
        read_mapping(big)
    deep = tmp_path / "deep.json"
    deep.write_text('{"lora_r": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(InvalidInput, match="nested too deeply"):
        read_mapping(deep)


@pytest.mark.parametrize(
    "key, value",
    [
        ("lr_scheduler_type", "x" * 10_000_000),
        ("lora_target_modules", [[["m"] * 1000] * 1000] * 100),
        ("x" * 1_000_000, 1),
        ("apply_lora", "y" * 1_000_000),
        ("learning_rate", "9" * 5000),
    ],
    ids=["long-text", "wide-list", "long-key", "long-bool", "long-number"],
)
def test_errors_quote_at_most_80_characters_of_a_value(key, value):
    started = time.monotonic()
    with pytest.raises(SpecError) as info:
        FineTuneSpec.from_mapping({key: value}, source="spec.yaml")
    message = str(info.value)
    assert "\n" not in message and len(message) < 700, message[:700]
    assert not any(c * 81 in message for c in "xy9m"), message[:700]  # the value is quoted up to 80 characters
    assert time.monotonic() - started < 10
