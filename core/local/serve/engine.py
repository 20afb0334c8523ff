"""The model behind an endpoint: loading, chat prompts, and batched generation.

One scheduler thread owns the model. Requests that arrive together are
generated together (dynamic batching): new arrivals are prefilled as a
left-padded batch, their KV cache is padded to the running batch's length
and concatenated to it, and every step after that is one batched forward
for all active sequences. Finished, cancelled and timed-out sequences leave
the batch between steps, so a disconnect or a deadline stops its generation
at once. Each request gets its pieces of text through ``emit``, a thread-safe
callback (the server puts them on an asyncio queue).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ...chat import ChatParams
from .textstream import TextStream

log = logging.getLogger("finetui.serve")

# Used only for a model folder whose tokenizer has no chat template.
_FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + '<|end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class GenParams(ChatParams):
    """The client's parameters and defaults (the tutorial's), as the server reads them."""

    @property
    def greedy(self) -> bool:
        return not self.do_sample or self.temperature == 0


Event = tuple  # ("text", piece) | ("done", finish_reason, usage) | ("error", status, message)


class GenRequest:
    def __init__(
        self,
        prompt_ids: Sequence[int],
        params: GenParams,
        emit: Callable[[Event], None],
        *,
        deadline: float | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        self.prompt_ids = list(prompt_ids)
        self.params = params
        self.emit = emit
        self.deadline = deadline  # time.monotonic() value
        self.timeout_ms = timeout_ms
        self.cancelled = threading.Event()
        self.submitted = time.monotonic()
        self.first_token_at: float | None = None
        self.stream: TextStream | None = None
        self.generator = None

    def cancel(self) -> None:
        self.cancelled.set()


class Engine:
    def __init__(self, model_path: str, *, metrics: Any = None, max_batch: int = 16, window_s: float = 0.005) -> None:
        self.model_path = model_path
        self.metrics = metrics
        self.max_batch = max_batch
        self.window_s = window_s
        self.state = "loading"  # -> "ready" | "failed"
        self.error: str | None = None
        self.context_length = 2048
        self.model_name = model_path
        self._pending: list[GenRequest] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._tok_lock = threading.Lock()

    # -- loading ---------------------------------------------------------------
    def load(self) -> None:
        try:
            self._load()
        except Exception as exc:  # the server reports it; the process keeps its log
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.state = "failed"
            log.exception("model failed to load")
            raise
        self._thread = threading.Thread(target=self._loop, name="generate", daemon=True)
        self._thread.start()
        self.state = "ready"

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..artifacts import resolve_hf_dirs

        model_dir, tok_dir = resolve_hf_dirs(self.model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(tok_dir)
        if not getattr(self.tokenizer, "chat_template", None):
            log.warning("tokenizer has no chat template; using a Phi-3 style one")
            self.tokenizer.chat_template = _FALLBACK_TEMPLATE
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        model.eval()
        self.model = model
        cfg = model.config
        self.context_length = int(getattr(cfg, "max_position_embeddings", None) or 2048)
        eos: set[int] = set()
        for source in (cfg.eos_token_id, getattr(model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(source, int):
                eos.add(source)
            elif isinstance(source, (list, tuple)):
                eos.update(int(x) for x in source)
        self.eos_ids = eos
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    # -- prompts -----------------------------------------------------------------
    # A fast tokenizer used from two threads at once can fail with "Already borrowed"
    # (encoding toggles its truncation state), hence one lock for the event loop and the scheduler.
    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        with self._tok_lock:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        with self._tok_lock:
            return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    # -- requests ------------------------------------------------------------------
    def submit(self, req: GenRequest) -> None:
        req.stream = TextStream(self.decode, req.params.stop)
        if req.params.seed is not None and not req.params.greedy:
            import torch

            req.generator = torch.Generator().manual_seed(int(req.params.seed))
        with self._cond:
            self._pending.append(req)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()

    # -- the scheduler ----------------------------------------------------------------
    def _loop(self) -> None:
        import torch

        batch: _Batch | None = None
        while True:
            with self._cond:
                while not self._closing and not self._pending and batch is None:
                    self._cond.wait()
                if self._closing:
                    return
                if batch is None:
                    # idle until now: give requests sent together a moment to arrive together
                    wait = self._pending[0].submitted + self.window_s - time.monotonic()
                    if wait > 0:
                        self._cond.wait(wait)
                room = self.max_batch - (len(batch.rows) if batch else 0)
                new, self._pending = self._pending[:room], self._pending[room:]
            new = [r for r in new if self._still_wanted(r)]
            if batch is not None:
                keep = [i for i, r in enumerate(batch.rows) if self._still_wanted(r)]
                batch = batch.select(keep)
            try:
                with torch.inference_mode():
                    tokens: list[int] = []
                    if batch is not None:
                        tokens += self._sample(self._decode_step(batch), batch.rows)
                    if new:
                        fresh, logits = self._prefill(new)
                        tokens += self._sample(logits, fresh.rows)
                        batch = fresh if batch is None else batch.merge(fresh)
            except Exception as exc:  # a bad step fails its requests, not the server
                log.exception("generation step failed")
                for r in (batch.rows if batch else []) + new:
                    r.emit(("error", 500, f"generation failed: {type(exc).__name__}"))
                batch = None
                continue
            if batch is None:
                continue
            batch.set_next(tokens)
            keep = [i for i, (r, t) in enumerate(zip(batch.rows, tokens)) if not self._advance(r, t, batch.lengths[i])]
            batch = batch.select(keep) if keep else None

    def _still_wanted(self, r: GenRequest) -> bool:
        if r.cancelled.is_set():
            return False
        if r.deadline is not None and time.monotonic() > r.deadline:
            r.emit(("error", 408, f"request timed out after {r.timeout_ms} ms (request_timeout_ms)"))
            if self.metrics:
                self.metrics.count_timeout()
            return False
        return True

    def _advance(self, r: GenRequest, token: int, length: int) -> bool:
        """Feed one sampled token to its request; True when that request is finished."""
        now = time.monotonic()
        stream = r.stream
        assert stream is not None
        if r.first_token_at is None:
            r.first_token_at = now
            if self.metrics:
                self.metrics.observe_ttft(now - r.submitted)
        reason = None
        if token in self.eos_ids:
            reason = "stop"
        else:
            piece = stream.push(token)
            if self.metrics:
                self.metrics.add_tokens(1)
            if piece:
                r.emit(("text", piece))
            if stream.stopped:
                reason = "stop"
            elif stream.tokens >= r.params.max_new_tokens or length + 1 >= self.context_length:
                reason = "length"
        if reason is None:
            return False
        tail = stream.finish()
        if tail:
            r.emit(("text", tail))
        usage = {
            "prompt_tokens": len(r.prompt_ids),
            "completion_tokens": stream.tokens,
            "total_tokens": len(r.prompt_ids) + stream.tokens,
        }
        r.emit(("done", reason, usage))
        return True

    # -- the model steps -----------------------------------------------------------------
    def _prefill(self, rows: list[GenRequest]):
        import torch
        from transformers import DynamicCache

        width = max(len(r.prompt_ids) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r.prompt_ids)
            ids[i, width - n :] = torch.tensor(r.prompt_ids, dtype=torch.long)
            mask[i, width - n :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True)
        batch = _Batch(rows, out.past_key_values, mask, [len(r.prompt_ids) for r in rows])
        return batch, out.logits[:, -1, :]

    def _decode_step(self, batch: "_Batch"):
        import torch

        ids = torch.tensor(batch.next_tokens, dtype=torch.long)[:, None]
        mask = torch.cat([batch.mask, torch.ones((len(batch.rows), 1), dtype=torch.long)], dim=1)
        positions = torch.tensor(batch.lengths, dtype=torch.long)[:, None]
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=batch.cache, use_cache=True)
        batch.mask = mask
        batch.lengths = [n + 1 for n in batch.lengths]
        return out.logits[:, -1, :]

    def _sample(self, logits, rows: list[GenRequest]) -> list[int]:
        import torch

        logits = logits.float()
        chosen = logits.argmax(-1)
        sampled = [i for i, r in enumerate(rows) if not r.params.greedy]
        if sampled:
            idx = torch.tensor(sampled)
            temps = torch.tensor([rows[i].params.temperature for i in sampled])[:, None]
            top_p = torch.tensor([rows[i].params.top_p for i in sampled])[:, None]
            probs = torch.softmax(logits[idx] / temps, dim=-1)
            sorted_p, order = probs.sort(dim=-1, descending=True)
            # keep the smallest head of the distribution whose mass reaches top_p (always the first token)
            sorted_p = sorted_p.masked_fill(sorted_p.cumsum(-1) - sorted_p > top_p, 0.0)
            picks = torch.multinomial(sorted_p, 1)
            for j, i in enumerate(sampled):
                gen = rows[i].generator
                if gen is not None:
                    picks[j] = torch.multinomial(sorted_p[j : j + 1], 1, generator=gen)[0]
            chosen[idx] = order.gather(-1, picks)[:, 0]
        return [int(t) for t in chosen.tolist()]


class _Batch:
    """Active sequences: KV cache [B, H, T, D] left-padded to one length, mask [B, T]."""

    def __init__(self, rows: list[GenRequest], cache: Any, mask: Any, lengths: list[int]) -> None:
        self.rows = rows
        self.cache = cache
        self.mask = mask
        self.lengths = lengths  # real tokens in the cache = position of the next input token
        self.next_tokens: list[int] = []

    def set_next(self, tokens: list[int]) -> None:
        self.next_tokens = tokens

    def select(self, keep: list[int]) -> "_Batch | None":
        import torch

        if not keep:
            return None
        if len(keep) == len(self.rows):
            return self
        index = torch.tensor(keep)
        mask = self.mask[index]
        # columns that are padding for every remaining sequence are dead weight
        used = mask.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else 0
        mask = mask[:, start:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, start:, :]
            layer.values = layer.values[index, :, start:, :]
        out = _Batch([self.rows[i] for i in keep], self.cache, mask, [self.lengths[i] for i in keep])
        if self.next_tokens:
            out.next_tokens = [self.next_tokens[i] for i in keep]
        return out

    def merge(self, other: "_Batch") -> "_Batch":
        import torch
        import torch.nn.functional as F

        width = max(self.mask.shape[1], other.mask.shape[1])

        def pad(t, n):  # left-pad dimension -2 (time) of a KV tensor or dim 1 of a mask
            if n == 0:
                return t
            return F.pad(t, (0, 0, n, 0)) if t.dim() == 4 else F.pad(t, (n, 0))

        a, b = width - self.mask.shape[1], width - other.mask.shape[1]
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            mine.keys = torch.cat([pad(mine.keys, a), pad(theirs.keys, b)], dim=0)
            mine.values = torch.cat([pad(mine.values, a), pad(theirs.values, b)], dim=0)
        mask = torch.cat([pad(self.mask, a), pad(other.mask, b)], dim=0)
        return _Batch(self.rows + other.rows, self.cache, mask, self.lengths + other.lengths)
