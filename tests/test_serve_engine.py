"""The generation engine in-process: batching changes no answer, cancellation and deadlines stop work."""

from __future__ import annotations

import threading
import time

import pytest

from serve_model import build_tiny_phi3

from finetui.core.local.serve.engine import Engine, GenParams, GenRequest


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    e = Engine(str(build_tiny_phi3(tmp_path_factory.mktemp("m") / "tiny")))
    e.load()
    yield e
    e.close()


class Collector:
    def __init__(self):
        self.events = []
        self.done = threading.Event()

    def __call__(self, event):
        self.events.append(event)
        if event[0] in ("done", "error"):
            self.done.set()

    @property
    def text(self):
        return "".join(e[1] for e in self.events if e[0] == "text")


def run(engine, conversations, params, gaps=None):
    collectors = []
    for i, conv in enumerate(conversations):
        if gaps:
            time.sleep(gaps[i])
        c = Collector()
        engine.submit(GenRequest(engine.encode_chat(conv), params, c))
        collectors.append(c)
    for c in collectors:
        assert c.done.wait(60)
    return collectors


CONVS = [
    [{"role": "user", "content": "Bok, čovječe!"}],
    [{"role": "user", "content": "a much longer question " * 4}],
    [{"role": "user", "content": "x"}],
]


def test_batched_and_staggered_answers_equal_single_answers_and_hf_generate(engine):
    import torch

    greedy = GenParams(do_sample=False, max_new_tokens=24)
    alone = [run(engine, [c], greedy)[0].text for c in CONVS]
    together = [c.text for c in run(engine, CONVS, greedy)]
    staggered = [c.text for c in run(engine, CONVS, greedy, gaps=[0, 0.01, 0.03])]
    assert together == alone and staggered == alone
    for conv, text in zip(CONVS, alone):
        ids = torch.tensor([engine.encode_chat(conv)])
        reference = engine.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24, do_sample=False)
        assert engine.decode(reference[0, ids.shape[1] :].tolist()) == text


def test_seeded_sampling_repeats_and_usage_is_reported(engine):
    params = GenParams(max_new_tokens=16, seed=7, temperature=0.9, top_p=0.8)
    first, second = run(engine, [CONVS[0], CONVS[0]], params)
    assert first.text == second.text
    kind, reason, usage = first.events[-1]
    assert kind == "done" and reason in ("stop", "length")
    assert usage["prompt_tokens"] == len(engine.encode_chat(CONVS[0])) and 1 <= usage["completion_tokens"] <= 16


def test_cancel_and_deadline_stop_generation(engine):
    cancelled = Collector()
    req = GenRequest(engine.encode_chat(CONVS[0]), GenParams(do_sample=False, max_new_tokens=1000), cancelled)
    engine.submit(req)
    time.sleep(0.05)
    req.cancel()
    time.sleep(0.2)
    produced = len(cancelled.events)
    time.sleep(0.2)
    assert len(cancelled.events) == produced and not cancelled.done.is_set()  # stopped, silently

    late = Collector()
    engine.submit(
        GenRequest(
            engine.encode_chat(CONVS[0]),
            GenParams(do_sample=False, max_new_tokens=1000),
            late,
            deadline=time.monotonic() + 0.1,
            timeout_ms=100,
        )
    )
    assert late.done.wait(10)
    assert late.events[-1][0] == "error" and late.events[-1][1] == 408
    # the engine keeps serving
    assert run(engine, [CONVS[2]], GenParams(do_sample=False, max_new_tokens=3))[0].events[-1][0] == "done"


def test_end_of_sequence_token_ends_the_answer_without_text(engine):
    greedy = GenParams(do_sample=False, max_new_tokens=10)
    first = engine.encode_chat(CONVS[2])
    import torch

    with torch.inference_mode():
        token = int(engine.model(torch.tensor([first])).logits[0, -1].argmax())
    engine.eos_ids.add(token)  # as if the model's first answer token were <|end|>
    try:
        collector = run(engine, [CONVS[2]], greedy)[0]
    finally:
        engine.eos_ids.discard(token)
    assert collector.text == "" and collector.events[-1][:2] == ("done", "stop")
    assert collector.events[-1][2]["completion_tokens"] == 0


def test_an_mlflow_model_folder_serves_like_the_plain_folder(engine, tmp_path):
    import shutil
    from pathlib import Path

    plain = Path(engine.model_path)
    mlflow_dir = tmp_path / "mlflow-model"
    shutil.copytree(plain, mlflow_dir / "model")
    (mlflow_dir / "components").mkdir()
    shutil.copytree(plain, mlflow_dir / "components" / "tokenizer")
    (mlflow_dir / "MLmodel").write_text("flavors:\n  transformers:\n    model_binary: model\n    task: text-generation\n")
    other = Engine(str(mlflow_dir))
    other.load()
    try:
        greedy = GenParams(do_sample=False, max_new_tokens=8)
        assert run(other, [CONVS[0]], greedy)[0].text == run(engine, [CONVS[0]], greedy)[0].text
    finally:
        other.close()


def test_a_row_whose_sampling_fails_errors_alone_and_tiny_temperatures_are_greedy(engine):
    greedy = GenParams(do_sample=False, max_new_tokens=12)
    expected = run(engine, [CONVS[0]], greedy)[0].text
    rows = [
        greedy,
        GenParams(temperature=float("nan"), max_new_tokens=12),
        GenParams(temperature=1e-46, max_new_tokens=12),
        GenParams(temperature=1e-38, max_new_tokens=12),
        greedy,
    ]
    collectors = []
    for params in rows:  # submitted together: one batch
        c = Collector()
        engine.submit(GenRequest(engine.encode_chat(CONVS[0]), params, c))
        collectors.append(c)
    for c in collectors:
        assert c.done.wait(60)
    kinds = [c.events[-1][0] for c in collectors]
    assert kinds == ["done", "error", "done", "done", "done"]
    assert collectors[1].events[-1][1] == 500 and "sampling failed" in collectors[1].events[-1][2]
    # a temperature too small to divide by means the likeliest token, as greedy decoding picks it
    assert [collectors[i].text for i in (0, 2, 3, 4)] == [expected] * 4


def test_generation_raises_no_deprecation_warnings(engine):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(engine, CONVS[:2], GenParams(do_sample=False, max_new_tokens=4))
    assert [str(w.message) for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))] == []
