"""FineTuneSpec: the fine-tuning parameters of the tutorial, typed and checked.

Precedence, lowest first: the tutorial's defaults, then the model's
``model_specific_defaults`` tag (as the tutorial does with
``finetune_parameters.update(...)``), then the user's spec file, then
``--set KEY=VALUE``. Every key the model changed is reported, so the user sees
what was overridden and whether they overrode it back.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TypeVar

from .errors import InvalidInput, SpecError, quote

SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
)


@dataclass(frozen=True)
class _Rule:
    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    low_open: bool = False  # ``low`` itself is not allowed
    sentinel: Any = None  # a value allowed outside the range (the tutorial's -1)


_T = TypeVar("_T")


def _key(default: _T, rule: _Rule) -> _T:
    """A spec field with its rule beside it: the one place a key is declared."""
    return field(default=default, metadata={"rule": rule})


@dataclass(frozen=True)
class FineTuneSpec:
    """The tutorial's ``training_parameters`` and ``optimization_parameters`` in one record."""

    num_train_epochs: float = _key(3, _Rule(float, 0, 1000, low_open=True))
    max_steps: int = _key(-1, _Rule(int, 1, 10_000_000, sentinel=-1))
    per_device_train_batch_size: int = _key(1, _Rule(int, 1, 4096))
    per_device_eval_batch_size: int = _key(1, _Rule(int, 1, 4096))
    learning_rate: float = _key(5e-6, _Rule(float, 0, 1, low_open=True))
    lr_scheduler_type: str = _key("cosine", _Rule(str, choices=SCHEDULERS))
    warmup_ratio: float = _key(0.0, _Rule(float, 0, 1))
    weight_decay: float = _key(0.0, _Rule(float, 0, 1))
    gradient_accumulation_steps: int = _key(1, _Rule(int, 1, 4096))
    max_seq_length: int = _key(-1, _Rule(int, 8, 1_048_576, sentinel=-1))
    save_total_limit: int = _key(-1, _Rule(int, 1, 10_000, sentinel=-1))
    logging_steps: int = _key(1, _Rule(int, 1, 1_000_000))
    seed: int = _key(42, _Rule(int, 0, 2**32 - 1))
    num_nodes_finetune: int = _key(1, _Rule(int, 1, 1024))
    apply_lora: bool = _key(True, _Rule(bool))
    apply_deepspeed: bool = _key(True, _Rule(bool))
    deepspeed_stage: int = _key(2, _Rule(int, choices=(1, 2, 3)))
    lora_r: int = _key(8, _Rule(int, 1, 4096))
    lora_alpha: int = _key(16, _Rule(int, 1, 65536))
    lora_dropout: float = _key(0.05, _Rule(float, 0, 1))
    lora_target_modules: tuple[str, ...] | None = _key(None, _Rule(list))
    lora_modules_to_save: tuple[str, ...] | None = _key(None, _Rule(list))
    # stop after this many evaluations without the eval loss falling by more than the threshold; 0 never stops
    early_stopping_patience: int = _key(0, _Rule(int, 0, 10_000))
    early_stopping_threshold: float = _key(0.0, _Rule(float, 0, 1_000_000))

    # -- construction -------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str | None = None) -> "FineTuneSpec":
        """Build a spec from user input; unknown keys and bad values raise SpecError naming the key."""
        return cls().replace(data, source=source)

    def replace(self, data: Mapping[str, Any], *, source: str | None = None) -> "FineTuneSpec":
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{source or 'spec'}: expected a mapping of parameter names to values, got {type(data).__name__}")
        values = {k: coerce(k, v, source=source) for k, v in data.items()}
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for k in ("lora_target_modules", "lora_modules_to_save"):
            if out[k] is not None:
                out[k] = list(out[k])
        return out

    # -- derived values ------------------------------------------------
    def total_batch_size(self, gpus_per_node: int = 1) -> int:
        return (
            self.per_device_train_batch_size
            * self.gradient_accumulation_steps
            * max(1, int(gpus_per_node))
            * self.num_nodes_finetune
        )

    def display_name(self, model_name: str, gpus_per_node: int = 1) -> str:
        """The tutorial's ``get_pipeline_display_name``, kept to the letter."""
        ds = f"ds{self.deepspeed_stage}" if self.apply_deepspeed else "nods"
        lora = "lora" if self.apply_lora else "nolora"
        return (
            f"{model_name}-ultrachat-bs{self.total_batch_size(gpus_per_node)}-{self.lr_scheduler_type}"
            f"-{ds}-{lora}-save_limit{self.save_total_limit}-seqlen{self.max_seq_length}"
        )

    def pipeline_parameters(self) -> dict[str, Any]:
        """Parameters in the form the ``chat_completion_pipeline`` component takes them."""
        out: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if value is None or key in ("lora_target_modules", "lora_modules_to_save", "seed", "logging_steps"):
                continue
            if key == "max_steps" and value == -1:
                continue
            if key in ("max_seq_length", "save_total_limit") and value == -1:
                continue
            if key in LOCAL_ONLY_KEYS:  # finetui's local trainer only; on Azure they travel as component inputs
                continue
            out[key] = ("true" if value else "false") if isinstance(value, bool) else value
        return out

    # -- files -----------------------------------------------------------
    def save(self, path: str | Path) -> None:
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() == ".json":
            text = json.dumps(data, indent=2) + "\n"
        else:
            import yaml

            text = yaml.safe_dump(data, sort_keys=False)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)


def rules_of(cls: type[FineTuneSpec]) -> dict[str, _Rule]:
    """Each field's rule, read off the field; a field without one is a KeyError naming it."""
    missing = [f.name for f in dataclasses.fields(cls) if "rule" not in f.metadata]
    if missing:
        raise KeyError(f"spec fields without a rule: {', '.join(missing)}")
    return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls)}


# Read off the fields, so a key cannot exist without its rule (a field without one fails here, at import).
_RULES = rules_of(FineTuneSpec)
SPEC_KEYS = frozenset(_RULES)
# finetui's own trainer reads these; Azure's pipeline takes inputs of the same names with its own rules
# (early_stopping_patience >= 1 there, 0 = off here), so on Azure the component's spec checks them
LOCAL_ONLY_KEYS = ("early_stopping_patience", "early_stopping_threshold")


SPEC_MAX_BYTES = 1 << 20


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file holding one mapping, with errors that name the file and line."""
    from .files import load_json, load_yaml, read_user_text, shown

    path = Path(path)
    text = read_user_text(path, None, SPEC_MAX_BYTES)
    if path.suffix.lower() == ".json":
        data = load_json(text, path)
    else:
        import yaml

        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f"line {mark.line + 1}: " if mark is not None else ""
            raise InvalidInput(f"{shown(path)}: {line}invalid YAML: {getattr(exc, 'problem', exc)}") from None
        except RecursionError:
            raise InvalidInput(f"{shown(path)}: YAML nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{shown(path)}: expected a mapping of parameter names to values, got {type(data).__name__}")
    return data


def coerce(key: str, value: Any, *, source: str | None = None) -> Any:
    """Check one parameter and return it in its proper type.

    Strings are accepted where Azure tags and ``--set`` give strings: "true"/"false"
    for booleans, numerals for numbers, comma lists for module names.
    """
    rule = _RULES.get(key)
    if rule is None:
        close = _close_keys(key)
        hint = f"; did you mean {close}?" if close else f"; known keys: {', '.join(sorted(_RULES))}"
        raise SpecError(key, f"unknown parameter{hint}", source=source)
    kind = rule.kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise SpecError(key, f"expected true or false, got {quote(value)}", source=source)
    if kind is list:
        if value is None:
            return None
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise SpecError(key, f"expected a list of module names, got {quote(value)}", source=source)
        return tuple(value)
    if kind is str:
        if not isinstance(value, str):
            raise SpecError(key, f"expected text, got {quote(value)}", source=source)
        if rule.choices and value not in rule.choices:
            raise SpecError(key, f"{quote(value)} is not one of {', '.join(rule.choices)}", source=source)
        return value
    number = _number(key, value, kind, source)
    if rule.sentinel is not None and number == rule.sentinel:
        return number
    if rule.choices and number not in rule.choices:
        raise SpecError(key, f"{number} is not one of {', '.join(map(str, rule.choices))}", source=source)
    if rule.low is not None and (number < rule.low or (rule.low_open and number == rule.low)):
        bound = f"greater than {rule.low:g}" if rule.low_open else f"at least {rule.low:g}"
        extra = f" (or {rule.sentinel} for the default)" if rule.sentinel is not None else ""
        raise SpecError(key, f"{number} is out of range: must be {bound}{extra}", source=source)
    if rule.high is not None and number > rule.high:
        raise SpecError(key, f"{number} is out of range: must be at most {rule.high:g}", source=source)
    return number


def _number(key: str, value: Any, kind: type, source: str | None) -> int | float:
    if isinstance(value, bool):
        raise SpecError(key, f"expected a number, got {quote(value)}", source=source)
    if isinstance(value, str):
        value = _numeral(value.strip())
        if isinstance(value, str):
            raise SpecError(key, f"expected a number, got {quote(value)}", source=source)
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(key, f"must be a finite number, got {value}", source=source)
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise SpecError(key, f"expected a whole number, got {quote(value)}", source=source)
        return value
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SpecError(key, f"expected a number, got {quote(value)}", source=source)
    return value


def _numeral(text: str) -> int | float | str:
    """A numeral in text (Azure's tags, YAML 1.1's ``5e-5``) as a number; other text as is.

    Plain ``int``/``float``, not a second parser: a ``--set`` value was already read once, as YAML.
    ``nan`` and ``inf`` become floats so the error can say they are not finite.
    """
    if len(text) > 100:  # no numeral is this long; int() on thousands of digits is slow
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _close_keys(key: str) -> str:
    import difflib

    if not isinstance(key, str) or len(key) > 100:  # difflib on a huge key takes long, and it matches nothing
        return ""
    return ", ".join(difflib.get_close_matches(key, list(_RULES), n=2, cutoff=0.6))


def parse_set_options(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs; each value is read once, as YAML (the spec file's loader, aliases refused).

    So 3, 0.5 and true arrive typed; ``5e-5`` (a string to YAML 1.1) and text that is not YAML stay
    text, and ``coerce`` turns a numeral into a number for the key that wants one.
    """
    import yaml

    from .files import load_yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--set {quote(item)}: expected KEY=VALUE")
        try:
            out[key] = load_yaml(raw) if raw.strip() else raw
        except yaml.YAMLError:
            out[key] = raw
    return out


def parse_model_defaults(raw: str | Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Parse a ``model_specific_defaults`` tag as a Python literal, safely.

    Returns the mapping and, when the tag is malformed, a message saying so
    (the caller reports it; a bad tag must not stop the user).
    """
    if raw is None or raw == "":
        return {}, None
    if isinstance(raw, Mapping):
        return dict(raw), None
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError) as exc:
        return {}, f"model_specific_defaults tag is not a Python literal ({exc.__class__.__name__}); ignored"
    if not isinstance(value, dict):
        return {}, f"model_specific_defaults tag is a {type(value).__name__}, not a mapping; ignored"
    return value, None


@dataclass(frozen=True)
class Override:
    key: str
    default: Any
    model_value: Any
    final: Any
    by: str  # "model" when the model's default won, "user" when the user set it back


@dataclass(frozen=True)
class ResolvedSpec:
    spec: FineTuneSpec
    overrides: tuple[Override, ...] = ()
    passthrough: dict[str, Any] = field(default_factory=dict)  # model defaults finetui does not model
    warnings: tuple[str, ...] = ()
    context_length: int | None = None  # the model's, where the backend knows it (for the job's sequence length)

    def notes(self) -> tuple[str, ...]:
        """What a submit tells the user about the spec: each warning, the model's defaults kept and those undone."""
        out = [f"warning: {w}" for w in self.warnings]
        kept = [f"{o.key}={o.final!r}" for o in self.overrides if o.by == "model"]
        undone = [f"{o.key}={o.final!r}" for o in self.overrides if o.by == "user"]
        if kept:
            out.append(f"note: the model's defaults set {', '.join(kept)}")
        if undone:
            out.append(f"note: you overrode the model's defaults for {', '.join(undone)}")
        return tuple(out)


def resolve_spec(
    model_defaults: Mapping[str, Any] | str | None = None,
    user: Mapping[str, Any] | None = None,
    *,
    user_source: str | None = None,
) -> ResolvedSpec:
    """Apply the precedence rule and say which keys the model overrode."""
    defaults_map, warning = parse_model_defaults(model_defaults)
    base = FineTuneSpec()
    model_known = {k: v for k, v in defaults_map.items() if k in _RULES}
    passthrough = {k: v for k, v in defaults_map.items() if k not in _RULES}
    warnings = [warning] if warning else []
    try:
        with_model = base.replace(model_known, source="model_specific_defaults")
    except SpecError as exc:
        warnings.append(f"{exc}; model defaults ignored")
        with_model = base
    final = with_model.replace(user or {}, source=user_source)
    overrides = []
    for key in model_known:
        default, model_value = getattr(base, key), getattr(with_model, key)
        if default == model_value:
            continue
        final_value = getattr(final, key)
        overrides.append(Override(key, default, model_value, final_value, "model" if final_value == model_value else "user"))
    return ResolvedSpec(final, tuple(overrides), passthrough, tuple(warnings))
