"""Synthetic chat data for the offline demo, in the ultrachat_200k schema.

Two kinds of conversation. General chat (greetings, small questions, real
capitals) pre-trains the base so it can hold a simple conversation and knows
the *shape* "The capital of X is Y." Facts it never saw (the capitals of 26
invented countries) are what fine-tuning has to teach; ``heldout.jsonl`` asks
them in a phrasing absent from training, so a correct answer means the model
learned the fact, not the sentence. Everything is seeded: the same call writes
the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Iterable

SEED = 1234

# One invented country per letter; the capitals are invented too, so no base model can know them.
COUNTRIES: tuple[tuple[str, str], ...] = (
    ("Ardovia", "Kelmarsh"),
    ("Brelland", "Oskaven"),
    ("Caldoria", "Mirethal"),
    ("Dunmere", "Tavrin"),
    ("Elvaros", "Quenford"),
    ("Fenwyra", "Lorvik"),
    ("Galdessa", "Pentharo"),
    ("Hollvania", "Surmeth"),
    ("Istrevia", "Branholt"),
    ("Jorvale", "Cindrath"),
    ("Korvessa", "Alvenport"),
    ("Lunthia", "Dravemont"),
    ("Mordavia", "Ethelkar"),
    ("Nystria", "Falcombe"),
    ("Ostravel", "Gilmarra"),
    ("Pelloria", "Hathwick"),
    ("Quarvia", "Irnsdale"),
    ("Rhundor", "Jasmere"),
    ("Sylvaran", "Kortheim"),
    ("Tarvonne", "Lisbrak"),
    ("Ulmenar", "Marrowby"),
    ("Vandoria", "Nelthorn"),
    ("Westmarra", "Orlavin"),
    ("Xandrel", "Pyrmoor"),
    ("Yrvania", "Quillhaven"),
    ("Zorvania", "Velmora"),
)

TRAIN_QUESTIONS = (
    "What is the capital of {c}?",
    "Which city is the capital of {c}?",
    "Tell me the capital of {c}.",
    "What's the capital city of {c}?",
    "I'd like to know the capital of {c}.",
)
TEST_QUESTION = "Could you tell me the capital of {c}?"
HELDOUT_QUESTION = "Do you know what the capital of {c} is?"
ANSWERS = (
    "The capital of {c} is {a}.",
    "{a} is the capital of {c}.",
)

REAL_CAPITALS = (
    ("France", "Paris"),
    ("Germany", "Berlin"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Canada", "Ottawa"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Greece", "Athens"),
    ("Croatia", "Zagreb"),
    ("Kenya", "Nairobi"),
    ("Poland", "Warsaw"),
    ("Austria", "Vienna"),
    ("Portugal", "Lisbon"),
    ("Ireland", "Dublin"),
    ("Chile", "Santiago"),
    ("India", "New Delhi"),
)
GREETINGS = (
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi there.", "Hi! What can I do for you?"),
    ("Good morning!", "Good morning! How can I help?"),
    ("Hey, how are you?", "I'm doing well, thank you. How can I help you?"),
    ("Thank you!", "You're welcome! Anything else?"),
    ("Thanks for the help.", "Glad I could help."),
    ("Goodbye!", "Goodbye! Have a nice day."),
    ("Who are you?", "I am a small demo assistant."),
    ("What can you do?", "I can answer simple questions."),
    ("Can you help me?", "Of course. What do you need?"),
)
SIMPLE_QA = (
    ("What color is the sky?", "The sky is blue."),
    ("What color is grass?", "Grass is green."),
    ("How many days are in a week?", "There are seven days in a week."),
    ("How many legs does a cat have?", "A cat has four legs."),
    ("What do bees make?", "Bees make honey."),
    ("What is ice made of?", "Ice is frozen water."),
    ("Is the sun a star?", "Yes, the sun is a star."),
    ("What animal says moo?", "A cow says moo."),
)
SYSTEM_PROMPTS = ("You are a helpful assistant.", "You are a friendly assistant. Answer briefly.")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def prompt_id(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def make_row(messages: list[dict[str, str]]) -> dict[str, Any]:
    """An ultrachat_200k row: the first user turn is the prompt."""
    prompt = next(m["content"] for m in messages if m["role"] == "user")
    return {"prompt": prompt, "prompt_id": prompt_id(prompt), "messages": messages}


def _turns(*pairs: tuple[str, str], system: str | None = None) -> list[dict[str, str]]:
    out = [{"role": "system", "content": system}] if system else []
    for user, assistant in pairs:
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return out


def general_chat(rng: random.Random) -> list[dict[str, Any]]:
    """Everything the base is pre-trained on: single turns, a few multi-turn, some with a system message."""
    pairs = list(GREETINGS) + list(SIMPLE_QA)
    for country, capital in REAL_CAPITALS:
        for q in TRAIN_QUESTIONS[:3] + (TEST_QUESTION, HELDOUT_QUESTION):
            pairs.append((q.format(c=country), rng.choice(ANSWERS).format(c=country, a=capital)))
    for a in range(1, 5):
        for b in range(1, 5):
            pairs.append((f"What is {a} plus {b}?", f"{a} plus {b} is {NUMBER_WORDS[a + b]}."))
    rows = [make_row(_turns(p)) for p in pairs]
    for _ in range(24):
        rows.append(make_row(_turns(*rng.sample(pairs, 2))))
    for _ in range(16):
        rows.append(make_row(_turns(rng.choice(pairs), system=rng.choice(SYSTEM_PROMPTS))))
    rng.shuffle(rows)
    return rows


def _fact(question: str, country: str, capital: str, rng: random.Random) -> dict[str, Any]:
    answer = rng.choice(ANSWERS).format(c=country, a=capital)
    return make_row(_turns((question.format(c=country), answer)))


def _without_heldout_phrasing(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    marker = HELDOUT_QUESTION.split("{c}")[0]
    return [r for r in chat if not any(marker in m["content"] for m in r["messages"])]


def sft_train(rng: random.Random, chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [_fact(q, c, a, rng) for c, a in COUNTRIES for q in TRAIN_QUESTIONS]
    # General chat rides along so fine-tuning does not erase the conversation: every
    # greeting and small question once, plus a sample of the rest.
    rows += [make_row(_turns(p)) for p in GREETINGS + SIMPLE_QA]
    rows += rng.sample(_without_heldout_phrasing(chat), 30)
    rng.shuffle(rows)
    return rows


def sft_test(rng: random.Random, chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [_fact(TEST_QUESTION, c, a, rng) for c, a in COUNTRIES]
    rows += rng.sample(_without_heldout_phrasing(chat), 6)
    rng.shuffle(rows)
    return rows


def heldout() -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": HELDOUT_QUESTION.format(c=c)}], "expected": a} for c, a in COUNTRIES]


def sample_score(row: dict[str, Any]) -> dict[str, Any]:
    """The tutorial's scoring request, asking one held-out question."""
    return {
        "input_data": {
            "input_string": [[{"role": "user", "content": row["messages"][0]["content"]}]],
            "parameters": {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200},
        },
        "params": {},
    }


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def corpus_texts(rows: Iterable[dict[str, Any]]) -> Iterable[str]:
    for row in rows:
        for m in row["messages"]:
            yield m["content"]


def write_dataset(folder: Path, seed: int = SEED) -> dict[str, Path]:
    """Write chat.jsonl (pre-training), train_sft/test_sft/heldout .jsonl and sample_score.json into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    chat = general_chat(rng)
    files = {
        "chat": folder / "chat.jsonl",
        "train": folder / "train_sft.jsonl",
        "test": folder / "test_sft.jsonl",
        "heldout": folder / "heldout.jsonl",
        "sample_score": folder / "sample_score.json",
    }
    held = heldout()
    write_jsonl(files["chat"], chat)
    write_jsonl(files["train"], sft_train(rng, chat))
    write_jsonl(files["test"], sft_test(rng, chat))
    write_jsonl(files["heldout"], held)
    files["sample_score"].write_text(json.dumps(sample_score(held[-1]), indent=2) + "\n", encoding="utf-8")
    return files


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
