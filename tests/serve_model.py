"""A tiny Phi-3 chat model folder for endpoint and chat tests, built in seconds.

Random weights (seeded) and a byte-level BPE tokenizer with no merges, so
every UTF-8 byte is one token: multi-byte characters are split across tokens,
which is what incremental detokenisation has to get right. The chat template
is Phi-3's shape: ``<|user|>\\n...<|end|>\\n<|assistant|>\\n``.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from finetui.core.models import RegisteredModel

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]


def build_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|end|>",
        pad_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)


def build_tiny_phi3(folder: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    """A Phi-3 folder (config, safetensors, tokenizer); ``hidden``/``layers`` scale it for benches."""
    import torch
    from transformers import AutoTokenizer, Phi3ForCausalLM

    from finetui.core.local.demo.model import make_config

    folder.mkdir(parents=True, exist_ok=True)
    build_tokenizer(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    config = make_config(tok, hidden=hidden, intermediate=hidden * 2, layers=layers, heads=heads, context=1024)
    torch.manual_seed(seed)
    model = Phi3ForCausalLM(config)
    with torch.no_grad():
        # a zero row gives <|end|> logit 0 while random rows give some positive logit: greedy answers never
        # end early and run to max_new_tokens, which the timeout and cancellation tests rely on
        model.lm_head.weight[tok.eos_token_id].zero_()
    model.save_pretrained(folder)
    return folder


class StandInRegistry:
    """Anything with ``get(ref) -> RegisteredModel``: the endpoint manager's view of a registry."""

    def __init__(self, models: dict[str, Path]) -> None:
        self.models = models

    def get(self, ref: str) -> RegisteredModel:
        from finetui.core.errors import NotFound

        name, _, version = ref.partition(":")
        if name not in self.models:
            raise NotFound(f"no registered model named {name!r}")
        return RegisteredModel(
            name=name, version=version or "1", path=str(self.models[name]), job=None, base_model=None, created_at=time.time()
        )


@contextlib.contextmanager
def serving_backend(workspace: Path, model: Path, name: str = "tiny-chat"):
    """A local backend with ``model`` in its catalog as ``name``; every endpoint it started is deleted after.

    OMP_NUM_THREADS=1 for the server processes it starts (they inherit it): CI machines have 2 cores.
    """
    import pytest

    from finetui.core.errors import NotFound
    from finetui.core.local.backend import LocalBackend

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        backend = LocalBackend(workspace)
        backend.catalog.add_path(model, name=name)
        try:
            yield backend
        finally:
            for ep in backend.endpoints.list():
                try:
                    backend.endpoints.delete(ep.name)
                except NotFound:
                    pass


def tiny_chat_workspace(tmp_path: Path):
    """A LocalBackend on ``tmp_path/ws`` whose catalog holds this tiny model as ``tiny-chat``."""
    from finetui.core.local.backend import LocalBackend

    backend = LocalBackend(tmp_path / "ws")
    backend.catalog.add_path(build_tiny_phi3(tmp_path / "tiny"), name="tiny-chat")
    return backend


@contextlib.contextmanager
def cli_endpoint(tmp_path: Path, monkeypatch, name: str, *create_args: str):
    """``finetui endpoint create NAME --no-wait`` over ``tiny_chat_workspace``: yields (backend, the create's JSON).

    OMP_NUM_THREADS=1 for the test's own CLI calls and the server they start; the endpoint is deleted after.
    """
    from cli_helpers import finetui, finetui_json

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    backend = tiny_chat_workspace(tmp_path)
    ws = backend.paths.root
    try:
        yield (
            backend,
            finetui_json(
                ws, "endpoint", "create", name, "--model", "tiny-chat", "--no-wait", *create_args, env={"OMP_NUM_THREADS": "1"}
            ),
        )
    finally:
        finetui(ws, "endpoint", "delete", name, "--yes", check=False)
