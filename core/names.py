"""The names a user gives us, checked before they become a path or a record key.

One rule per kind of name, matched against the whole value (``re.fullmatch``:
a trailing newline is not a name), and one way to turn a checked name into a
path that cannot leave its folder. Every place a user-given name reaches the
file system or the database goes through here first, so ``..``, ``/abs``,
``a/b`` or ``""`` fail with a one-line error and nothing is touched.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import InvalidInput, quote

# (pattern, what a valid name looks like). Endpoint and asset rules are Azure ML's,
# so a name that works here also works there.
_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "endpoint": (
        re.compile(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]"),
        "use 3-32 letters, digits or hyphens, starting with a letter and not ending with a hyphen",
    ),
    "job": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}"),
        "use letters, digits, '-' or '_', starting with a letter or digit (at most 255)",
    ),
    "registered model": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}"),
        "use letters, digits, '-', '_' or '.', starting with a letter or digit (at most 255)",
    ),
    # catalog models may carry a Hugging Face owner: org/name
    "model": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,254})?"),
        "use letters, digits, '-', '_' or '.' (or org/name for a Hugging Face model), starting with a letter or digit",
    ),
    "version": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"),
        "use letters, digits, '-', '_' or '.', e.g. 1 or 2",
    ),
    # the datasets library's rule for split names
    "split": (re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*"), "use letters, digits and '_', e.g. train_sft"),
}
# refs the catalog hands out as ids (local://..., hf://..., azureml://...) are looked up, never made into paths
_ID = re.compile(r"[a-z]+://[!-~]{1,1000}")


def endpoint_name_for(model: str) -> str:
    """The endpoint name offered for deploying ``model`` (a name without its version): the rule's letters,
    digits and hyphens, starting with a letter, ``-ep`` at the end, at most 32."""
    stem = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:28].strip("-")
    stem = stem if stem[:1].isalpha() else f"ep-{stem}".strip("-")[:28].strip("-")
    return f"{stem}-ep"


def check_name(kind: str, value: object) -> str:
    """``value`` if it is a valid ``kind`` name, else InvalidInput naming the value and the rule."""
    pattern, rule = _RULES[kind]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"{kind} name {quote(value)}: {rule}")
    return value


def check_ref(kind: str, ref: object) -> tuple[str, str]:
    """``NAME`` or ``NAME:VERSION`` -> (name, version or ""), both checked."""
    if not isinstance(ref, str):
        raise InvalidInput(f"{kind} {quote(ref)}: expected NAME or NAME:VERSION")
    name, sep, version = ref.rpartition(":") if ":" in ref else (ref, "", "")
    if not _RULES[kind][0].fullmatch(name):
        raise InvalidInput(f"{kind} {quote(ref)}: {_RULES[kind][1]}")
    if sep and not _RULES["version"][0].fullmatch(version):
        raise InvalidInput(f"{kind} {quote(ref)}: the version after ':' must be letters, digits, '-', '_' or '.'")
    return name, version


def is_id(ref: object) -> bool:
    """True for a catalog id such as ``local://models/x/versions/1`` (compared, never used as a path)."""
    return isinstance(ref, str) and _ID.fullmatch(ref) is not None


def confined(parent: Path, kind: str, name: str) -> Path:
    """``parent / name`` for a checked name, refused if it would resolve outside ``parent``."""
    check_name(kind, name)
    base = Path(parent).resolve()
    resolved = (base / name).resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise InvalidInput(f"{kind} name {quote(name)}: resolves outside {base}")
    return Path(parent) / name
