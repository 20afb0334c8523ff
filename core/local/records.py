"""The typed rows of the local workspace database: jobs, endpoints and evaluations.

Each record is the domain type a backend returns (``Job``, ``Endpoint``,
``EvalRun``) plus what only the local backend keeps (the model folder, the
process's start time, the job folder...); ``public`` turns one back into the
domain type, so those local details never reach the UIs by accident. A record
is stored as its fields in JSON (``to_dict``), so a new field with a default
needs no migration. ``from_dict`` raises KeyError, TypeError or ValueError
for a record it cannot use, which the store lists as ``Damaged`` under its
name; keys a record does not know are dropped on read.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ..evaluate import EvalJudge, EvalRun, EvalScores
from ..models import Endpoint, EndpointState, Job, JobStatus

T = TypeVar("T")
Rec = TypeVar("Rec", bound="_Stored")


@dataclass(frozen=True)
class Damaged:
    """A row whose record cannot be read: shown under its name, never rewritten."""

    name: str
    why: str


class _Stored:
    """How a record goes to and from its JSON: enums by value, defaults for keys older records lack."""

    _enums: ClassVar[dict[str, type[enum.Enum]]] = {}
    _required: ClassVar[tuple[str, ...]] = ()  # defaulted in the domain type, yet needed here
    _defaults: ClassVar[dict[str, Any]] = {}  # required in the domain type, yet absent from older records
    _not_stored: ClassVar[tuple[str, ...]] = ()  # the other backend's fields

    def to_dict(self) -> dict[str, Any]:
        assert dataclasses.is_dataclass(self)
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in self._not_stored}

    @classmethod
    def from_dict(cls: type[Rec], d: dict[str, Any]) -> Rec:
        assert dataclasses.is_dataclass(cls)
        for key in cls._required:
            if d.get(key) is None:
                raise KeyError(key)
        known = {f.name for f in dataclasses.fields(cls)} - set(cls._not_stored)
        values = {**cls._defaults, **{k: v for k, v in d.items() if k in known}}
        for key, kind in cls._enums.items():
            values[key] = kind(values[key])
        return cls(**cls._typed(values))

    @classmethod
    def _typed(cls, values: dict[str, Any]) -> dict[str, Any]:
        return values


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def public(record: Any, kind: type[T]) -> T:
    """The domain type ``kind`` of a record, without the fields only the local backend keeps."""
    assert dataclasses.is_dataclass(kind)
    return kind(**{f.name: getattr(record, f.name) for f in dataclasses.fields(kind)})


@dataclass(frozen=True)
class JobRecord(Job, _Stored):
    """A local fine-tuning job, written by ``job submit`` and moved on by its runner."""

    _enums = {"status": JobStatus}
    _defaults = {"backend": "local", "test_file": None}
    _not_stored = ("steps",)

    model_path: str | None = None
    overrides: list[dict[str, Any]] = field(default_factory=list)
    pid_start_time: float | None = None
    resume_from: str | None = None
    extends: str | None = None
    job_dir: str | None = None
    resumed: list[str] = field(default_factory=list)  # the checkpoints `job resume` continued from, in order


@dataclass(frozen=True)
class EndpointRecord(Endpoint, _Stored):
    """A local endpoint: where its server listens and the process behind it."""

    _enums = {"state": EndpointState}
    _required = ("host", "port", "base_url")
    _not_stored = ("instance_type",)

    host: str = ""
    port: int = 0
    max_queue: int | None = None
    read_timeout_s: float | None = None
    pid_start_time: float | None = None
    model_path: str | None = None
    log_path: str | None = None
    warning: str | None = None
    stopped_at: float | None = None  # when the server stopped itself (idle, expired, drained)


@dataclass(frozen=True)
class EvalRecord(EvalRun, _Stored):
    """A local evaluation of a model (and its base) on a test file, moved on by its runner."""

    _enums = {"status": JobStatus}
    _defaults = {"base": None}

    model_path: str | None = None
    base_path: str | None = None
    model_defaults: dict[str, Any] = field(default_factory=dict)
    max_new_tokens: int = 64
    pid_start_time: float | None = None

    @classmethod
    def _typed(cls, values: dict[str, Any]) -> dict[str, Any]:
        scores = values.get("scores") or {}
        judge = values.get("judge")
        return {
            **values,
            "scores": {side: EvalScores(**s) if isinstance(s, dict) else s for side, s in scores.items()},
            "judge": EvalJudge(**judge) if isinstance(judge, dict) else judge,
        }
