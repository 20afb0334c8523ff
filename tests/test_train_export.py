"""The MLflow model folder a training run writes: it loads back as a plain transformers model.

Saves a tiny random Phi-3 (no training: the folder layout is what is under
test) with ``save_mlflow_model`` and reads it back the way the registry and the
endpoint server do, through ``artifacts.resolve_hf_dirs``.
"""

from __future__ import annotations

import yaml


def test_saved_folder_loads_back_with_its_chat_template(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetui.core.local.artifacts import is_mlflow_model, resolve_hf_dirs
    from finetui.core.local.mlflow_export import save_mlflow_model
    from tiny_model import build_tiny_setup

    setup = build_tiny_setup(tmp_path / "fixture", hidden=32, layers=1)
    model = AutoModelForCausalLM.from_pretrained(setup.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(setup.model_dir)
    dest = tmp_path / "job" / "outputs" / "mlflow_model"
    dest.parent.mkdir(parents=True)
    (dest).mkdir()
    (dest / "stale.txt").write_text("from an earlier save")  # replaced whole, not merged

    save_mlflow_model(model, tokenizer, dest, base_model=str(setup.model_dir), job="job-1")

    assert is_mlflow_model(dest) and not (dest / "stale.txt").exists()
    assert [p.name for p in dest.parent.iterdir()] == ["mlflow_model"]  # no temp folder left beside it
    meta = yaml.safe_load((dest / "MLmodel").read_text())
    assert meta["flavors"]["transformers"]["model_binary"] == "model"
    assert "python_function" in meta["flavors"]
    assert meta["metadata"]["finetui_job"] == "job-1"
    requirements = (dest / "requirements.txt").read_text()
    assert "torch==" in requirements and "transformers==" in requirements

    model_dir, tok_dir = resolve_hf_dirs(dest)
    loaded = AutoModelForCausalLM.from_pretrained(model_dir)
    loaded_tok = AutoTokenizer.from_pretrained(tok_dir)
    assert loaded_tok.chat_template == tokenizer.chat_template
    assert "{% generation %}" in loaded_tok.chat_template
    ids = loaded_tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        assert torch.allclose(loaded(ids).logits, model(ids).logits, atol=1e-5)


def test_layout_fallback_is_readable_without_mlflow(tmp_path):
    """The hand-written layout (used when mlflow cannot save) reads back the same way."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetui.core.local.artifacts import resolve_hf_dirs
    from finetui.core.local.mlflow_export import _check_layout, _save_layout
    from tiny_model import build_tiny_setup

    setup = build_tiny_setup(tmp_path / "fixture", hidden=32, layers=1)
    model = AutoModelForCausalLM.from_pretrained(setup.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(setup.model_dir)
    out = tmp_path / "fallback"
    _save_layout(model, tokenizer, out, {"finetui_job": "job-2"})
    _check_layout(out)
    model_dir, tok_dir = resolve_hf_dirs(out)
    assert AutoModelForCausalLM.from_pretrained(model_dir).config.model_type == "phi3"
    assert AutoTokenizer.from_pretrained(tok_dir).chat_template == tokenizer.chat_template
