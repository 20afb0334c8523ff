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

import inspect
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ...chat import ChatParams
from .textstream import TextStream

if TYPE_CHECKING:
    import torch

log = logging.getLogger("finetui.serve")
# Below this a temperature means "pick the likeliest token": dividing logits by it
# would overflow float32 (1e-46 is 0 there, 1e-38 is subnormal) and sampling would see NaN.
MIN_TEMPERATURE = 1e-5

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
        return not self.do_sample or self.temperature < MIN_TEMPERATURE


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
        self.generator: torch.Generator | None = None

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
        self._abort: tuple[int, str] | None = None
        self.running = 0  # rows in the batch being generated (read by the server's admission)
        self._cache_kw = "past_key_values"

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
        # transformers 5.x renamed the forward's cache argument (the old name warns on every call)
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
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
            # one sequence of ids decodes to one string (a batch would give a list)
            return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    # -- requests ------------------------------------------------------------------
    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def submit(self, req: GenRequest) -> None:
        req.stream = TextStream(self.decode, req.params.stop)
        if req.params.seed is not None and not req.params.greedy:
            import torch

            req.generator = torch.Generator().manual_seed(int(req.params.seed))
        with self._cond:
            self._pending.append(req)
            self._cond.notify()

    def abort_all(self, status: int, message: str) -> None:
        """End every pending and running request with an error event (a server that is stopping)."""
        with self._cond:
            self._abort = (status, message)
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
            self.running = len(batch.rows) if batch else 0
            with self._cond:
                while not self._closing and not self._pending and batch is None:
                    self._cond.wait()
                if self._closing:
                    return
                if self._abort is not None:  # stays set: a request submitted after it ends the same way
                    doomed = (batch.rows if batch else []) + self._pending
                    self._pending, batch = [], None
                    status, message = self._abort
                    for r in doomed:
                        r.emit(("error", status, message))
                    continue
                if batch is None:
                    # idle until now: give requests sent together a moment to arrive together
                    wait = self._pending[0].submitted + self.window_s - time.monotonic()
                    if wait > 0:
                        self._cond.wait(wait)
                room = self.max_batch - (len(batch.rows) if batch else 0)
                new, self._pending = self._pending[:room], self._pending[room:]
                self.running += len(new)
            new = [r for r in new if self._still_wanted(r)]
            if batch is not None:
                keep = [i for i, r in enumerate(batch.rows) if self._still_wanted(r)]
                batch = batch.select(keep)
            try:
                with torch.inference_mode():
                    tokens: list[int | None] = []
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
            batch.set_next([t if t is not None else self.pad_id for t in tokens])
            keep = [
                i
                for i, (r, t) in enumerate(zip(batch.rows, tokens))
                if t is not None and not self._advance(r, t, batch.lengths[i])
            ]
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
    def _prefill(self, rows: list[GenRequest]) -> tuple[_Batch, torch.Tensor]:
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
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **{self._cache_kw: cache})
        batch = _Batch(rows, cache, mask, [len(r.prompt_ids) for r in rows])
        logits: torch.Tensor = out.logits[:, -1, :]
        return batch, logits

    def _decode_step(self, batch: "_Batch") -> torch.Tensor:
        import torch

        ids = torch.tensor(batch.next_tokens, dtype=torch.long)[:, None]
        mask = torch.cat([batch.mask, torch.ones((len(batch.rows), 1), dtype=torch.long)], dim=1)
        positions = torch.tensor(batch.lengths, dtype=torch.long)[:, None]
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **{self._cache_kw: batch.cache}
        )
        batch.mask = mask
        batch.lengths = [n + 1 for n in batch.lengths]
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def _sample(self, logits: torch.Tensor, rows: list[GenRequest]) -> list[int | None]:
        """One token per row; None for a row whose sampling failed (that row gets the error, the batch goes on)."""
        logits = logits.float()
        chosen: list[int | None] = [int(t) for t in logits.argmax(-1).tolist()]
        for i, r in enumerate(rows):
            if r.params.greedy:
                continue
            try:
                chosen[i] = self._sample_row(logits[i], r)
            except Exception as exc:
                log.warning(
                    "sampling failed for one request (temperature=%r, top_p=%r): %s",
                    r.params.temperature,
                    r.params.top_p,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
                r.emit(("error", 500, f"sampling failed: {type(exc).__name__}"))
                chosen[i] = None
        return chosen

    @staticmethod
    def _sample_row(logits: torch.Tensor, r: GenRequest) -> int:
        import torch

        # shifting by the maximum keeps the scaled logits <= 0: no overflow, whatever the temperature
        scaled = (logits - logits.max()) / r.params.temperature
        probs = torch.softmax(scaled, dim=-1)
        sorted_p, order = probs.sort(descending=True)
        # keep the smallest head of the distribution whose mass reaches top_p (always the first token)
        sorted_p = sorted_p.masked_fill(sorted_p.cumsum(-1) - sorted_p > r.params.top_p, 0.0)
        pick = torch.multinomial(sorted_p, 1, generator=r.generator)
        return int(order[pick[0]])


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

        def pad(t: torch.Tensor, n: int) -> torch.Tensor:  # left-pad dimension -2 (time) of a KV tensor or dim 1 of a mask
            if n == 0:
                return t
            return F.pad(t, (0, 0, n, 0)) if t.dim() == 4 else F.pad(t, (n, 0))

        a, b = width - self.mask.shape[1], width - other.mask.shape[1]
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            mine.keys = torch.cat([pad(mine.keys, a), pad(theirs.keys, b)], dim=0)
            mine.values = torch.cat([pad(mine.values, a), pad(theirs.values, b)], dim=0)
        mask = torch.cat([pad(self.mask, a), pad(other.mask, b)], dim=0)
        return _Batch(self.rows + other.rows, self.cache, mask, self.lengths + other.lengths)
