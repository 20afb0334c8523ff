"""The project's typed errors.

Every error a user can see is one of these, with a message that says what is
wrong, where (file, line, field) and what to do about it. The CLI maps
``exit_code`` straight to the process exit status: 2 for bad input or usage,
1 for an operation that failed.
"""

from __future__ import annotations

import json


class FinetuiError(Exception):
    """Base of every error finetui raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InvalidInput(FinetuiError):
    """The user gave us something we cannot use: a bad file, key, value or name."""

    exit_code = 2


class SpecError(InvalidInput):
    """A FineTuneSpec key is unknown, of the wrong type or out of range."""

    def __init__(self, key: str, message: str, *, source: str | None = None) -> None:
        where = f"{source}: " if source else ""
        shown = key if isinstance(key, str) and key.isprintable() and len(key) <= QUOTE_LIMIT else quote(key)
        super().__init__(f"{where}{shown}: {message}")
        self.key = key


class DataError(InvalidInput):
    """A dataset file failed validation; ``report`` holds every problem found."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class NotFound(FinetuiError):
    """A named model, job, endpoint or file does not exist: the name the user gave is bad input."""

    exit_code = 2


class NothingToDelete(NotFound, InvalidInput):
    """A delete named something that has no record: bad input (exit 2), and nothing was touched."""


class Unsupported(InvalidInput):
    """The chosen backend does not offer this operation; the message names the backend and what to use instead.

    Bad input (exit 2) like any other choice the user can change: the UIs call
    the operation and show this, rather than probing a backend for a method.
    """


def unsupported(backend: str, what: str, instead: str) -> Unsupported:
    """``the azure backend cannot resume jobs yet; use --backend local``: the one wording for a missing operation."""
    return Unsupported(f"the {backend} backend cannot {what}; {instead}")


class Conflict(FinetuiError):
    """The operation clashes with the current state (a name in use, a job still running)."""


class DoesNotFit(FinetuiError):
    """The compute check says the job cannot run on the chosen compute."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class NetworkUnavailable(FinetuiError):
    """A remote service (a model hub, a dataset hub, Azure) could not be reached."""


class BackendUnavailable(FinetuiError):
    """The chosen backend is unknown, or its optional dependencies are not installed."""


class OperationFailed(FinetuiError):
    """A long operation (training, a deployment, a server start) ended badly."""


class AuthError(FinetuiError):
    """Credentials were missing, wrong or lacked a permission."""


class StorageError(FinetuiError):
    """The workspace's database or files cannot be read or written: damaged, read-only or a full disk."""


QUOTE_LIMIT = 80


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of a user's value for an error message, at most ``limit`` characters.

    Messages quote what the user gave; a value of 300 MB (or a structure that
    would print as one) must not become a message of 300 MB. ``reprlib`` stops
    early in long strings and deep or wide containers, so the cost is small too.
    """
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = limit
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 8
    short.maxlevel = 3
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_problem(exc: json.JSONDecodeError, *, with_line: bool = False) -> str:
    """``Unterminated string at column 12`` from a JSONDecodeError, for any error message that names one.

    Some of json's messages end in "at" because it appends the position itself
    ("Invalid control character at: line 1 column 12 (char 11)"); ``exc.msg``
    keeps that "at", so adding our own position would say "at at".
    """
    msg = exc.msg[: -len(" at")] if exc.msg.endswith(" at") else exc.msg
    where = f"line {exc.lineno}, column {exc.colno}" if with_line else f"column {exc.colno}"
    return f"{msg} at {where}"
