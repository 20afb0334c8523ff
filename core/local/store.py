"""SQLite records of the local workspace (WAL mode, safe for several processes).

The app, the CLI, job runners and endpoint servers all open the same file.
Each kind of record is a table keyed by name with its fields as JSON, so a new
field needs no migration; the columns we filter on are real columns.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, TypeVar

from ..errors import StorageError
from .records import Damaged, EndpointRecord, EvalRecord, JobRecord
from .storage_errors import os_storage_error, sqlite_storage_error

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL, version TEXT NOT NULL, created_at REAL NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS registered (
    name TEXT NOT NULL, version INTEGER NOT NULL, created_at REAL NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, created_at REAL NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, state TEXT NOT NULL, created_at REAL NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evals (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, model TEXT NOT NULL, created_at REAL NOT NULL, record TEXT NOT NULL);
"""


DAMAGED = "damaged"  # key of the placeholder record read for a row whose record is not a JSON object

R = TypeVar("R", JobRecord, EndpointRecord, EvalRecord)


@dataclass(frozen=True)
class _Table(Generic[R]):
    """One table of typed records: its name, the word for its rows, and the real column mirroring their state."""

    sql: str
    kind: str
    column: str
    read: Callable[[dict[str, Any]], R]
    state_of: Callable[[R], str]
    columns: tuple[str, ...] = ()  # more real columns, copied from the record's fields of the same names

    def parse(self, raw: Any, name: Any) -> R | Damaged:
        """A row's record, or Damaged (not JSON, or a field missing or refused) so one bad row hides no other."""
        d = parse_record(raw, name)
        if DAMAGED in d:
            return Damaged(str(name), d[DAMAGED])
        try:
            return self.read(d)
        except (KeyError, TypeError, ValueError) as exc:
            return Damaged(str(name), damage_reason(exc))


_JOBS: _Table[JobRecord] = _Table("jobs", "job", "status", JobRecord.from_dict, lambda r: r.status.value)
_EVALS: _Table[EvalRecord] = _Table("evals", "evaluation", "status", EvalRecord.from_dict, lambda r: r.status.value, ("model",))
_ENDPOINTS: _Table[EndpointRecord] = _Table("endpoints", "endpoint", "state", EndpointRecord.from_dict, lambda r: r.state.value)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_storage_error(exc, self.path.parent, "creating the workspace folder") from None
        # executescript commits on its own, so the schema goes in outside a transaction;
        # every statement in it is idempotent.
        with self._mapped():
            self._conn().executescript(_SCHEMA)
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """SQLite's errors (damaged file, read-only, disk full, locked) as one-line StorageErrors."""
        try:
            yield
        except sqlite3.Error as exc:
            raise sqlite_storage_error(exc, self.path) from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._mapped():
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("PRAGMA busy_timeout=30000")
                except BaseException:
                    conn.close()
                    raise
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with self._mapped():
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):  # the first error is the one to report
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise sqlite_storage_error(exc, self.path) from None
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- generic helpers -------------------------------------------------
    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Records from ``SELECT record, name[, version] ...``; a row whose record is not a JSON object comes back as
        ``{"name": name, "damaged": why}`` so that one bad row does not hide the others."""
        with self._mapped():
            rows = self._conn().execute(sql, args).fetchall()
        return [parse_record(*r) for r in rows]

    # -- typed records: jobs, endpoints, evaluations ----------------------
    def _get(self, table: _Table[R], name: str) -> R | Damaged | None:
        with self._mapped():
            row = self._conn().execute(f"SELECT record, name FROM {table.sql} WHERE name = ?", (name,)).fetchone()
        return None if row is None else table.parse(*row)

    def _list(self, table: _Table[R], order: str) -> list[R | Damaged]:
        with self._mapped():
            rows = self._conn().execute(f"SELECT record, name FROM {table.sql} ORDER BY {order}").fetchall()
        return [table.parse(*r) for r in rows]

    def _change(self, table: _Table[R], name: str, allowed_from: tuple[str, ...] | None, changes: dict[str, Any]) -> R | None:
        """Read-modify-write one record in a single write transaction: None when its state is not one of
        ``allowed_from`` (any, for None); KeyError when there is no such row; a damaged record is left alone."""
        with self.transaction() as db:
            row = db.execute(f"SELECT record, name FROM {table.sql} WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise KeyError(name)
            record = table.parse(*row)
            if isinstance(record, Damaged):
                raise StorageError(
                    f"the {table.kind} {name!r} has a damaged record in {self.path} ({record.why}); other records are unaffected"
                )
            if allowed_from is not None and table.state_of(record) not in allowed_from:
                return None
            # replace() refuses a field the record does not have; reading back turns "Failed" into JobStatus.FAILED
            record = table.read(dataclasses.replace(record, **changes).to_dict())
            db.execute(
                f"UPDATE {table.sql} SET {table.column} = ?, record = ? WHERE name = ?",
                (table.state_of(record), json.dumps(record.to_dict()), name),
            )
        return record

    def _insert(self, db: sqlite3.Connection, table: _Table[R], record: R, verb: str = "INSERT") -> None:
        names = ("name", table.column, *table.columns, "created_at", "record")
        values = (
            record.name,
            table.state_of(record),
            *(getattr(record, c) for c in table.columns),
            record.created_at or time.time(),
            json.dumps(record.to_dict()),
        )
        db.execute(f"{verb} INTO {table.sql}({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)

    def _changed(self, table: _Table[R], name: str, changes: dict[str, Any]) -> R:
        record = self._change(table, name, None, changes)
        assert record is not None  # no state condition, so it always changes
        return record

    def _changed_if(self, table: _Table[R], name: str, allowed_from: tuple[str, ...] | None, changes: dict[str, Any]) -> R | None:
        try:
            return self._change(table, name, allowed_from, changes)
        except KeyError:
            return None

    # -- jobs ------------------------------------------------------------
    def put_job(self, record: JobRecord) -> None:
        with self.transaction() as db:
            self._insert(db, _JOBS, record, "INSERT OR REPLACE")

    def get_job(self, name: str) -> JobRecord | Damaged | None:
        return self._get(_JOBS, name)

    def list_jobs(self) -> list[JobRecord | Damaged]:
        return self._list(_JOBS, "created_at DESC")

    def update_job(self, name: str, **changes: Any) -> JobRecord:
        """Read-modify-write one job inside a single write transaction."""
        return self._changed(_JOBS, name, changes)

    def update_job_if(self, name: str, allowed_from: tuple[str, ...] | None, **changes: Any) -> JobRecord | None:
        """Like update_job, but only while the job's status is one of ``allowed_from`` (any, for None)."""
        return self._change(_JOBS, name, allowed_from, changes)

    # -- evaluations -------------------------------------------------------
    def put_eval(self, record: EvalRecord) -> None:
        with self.transaction() as db:
            self._insert(db, _EVALS, record)

    def get_eval(self, name: str) -> EvalRecord | Damaged | None:
        return self._get(_EVALS, name)

    def list_evals(self) -> list[EvalRecord | Damaged]:
        return self._list(_EVALS, "created_at DESC")

    def update_eval_if(self, name: str, allowed_from: tuple[str, ...] | None, **changes: Any) -> EvalRecord | None:
        """Apply ``changes`` while the status is one of ``allowed_from`` (any, for None); None when it was not."""
        return self._changed_if(_EVALS, name, allowed_from, changes)

    # -- catalog models ----------------------------------------------------
    def put_model(self, record: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO models(name, version, created_at, record) VALUES (?, ?, ?, ?)",
                (record["name"], str(record["version"]), record.get("created_at", time.time()), json.dumps(record)),
            )

    def list_models(self) -> list[dict[str, Any]]:
        return self._query("SELECT record, name, version FROM models ORDER BY name, version")

    # -- registered models -------------------------------------------------
    def list_registered(self, name: str | None = None) -> list[dict[str, Any]]:
        if name:
            return self._query("SELECT record, name, version FROM registered WHERE name = ? ORDER BY version", (name,))
        return self._query("SELECT record, name, version FROM registered ORDER BY name, version")

    # -- endpoints -----------------------------------------------------------
    def add_endpoint(self, record: EndpointRecord) -> str | None:
        """Insert a new endpoint; the state of the one already named so instead (then nothing is written).
        Check and insert share one transaction, so two creates of one name cannot both win."""
        with self.transaction() as db:
            row = db.execute("SELECT state FROM endpoints WHERE name = ?", (record.name,)).fetchone()
            if row is not None:
                return str(row[0])
            self._insert(db, _ENDPOINTS, record)
        return None

    def get_endpoint(self, name: str) -> EndpointRecord | Damaged | None:
        return self._get(_ENDPOINTS, name)

    def list_endpoints(self) -> list[EndpointRecord | Damaged]:
        return self._list(_ENDPOINTS, "created_at")

    def update_endpoint(self, name: str, **changes: Any) -> EndpointRecord:
        return self._changed(_ENDPOINTS, name, changes)

    def update_endpoint_if(self, name: str, allowed_from: tuple[str, ...], **changes: Any) -> EndpointRecord | None:
        """Change an endpoint record only while its state is one of ``allowed_from``; None when it was not (or is gone)."""
        return self._changed_if(_ENDPOINTS, name, allowed_from, changes)

    def delete_endpoint(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM endpoints WHERE name = ?", (name,))


# -- registered versions inside a caller's transaction (the registry moves files in between) ----
def next_registered_version(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT COALESCE(MAX(version), 0) FROM registered WHERE name = ?", (name,)).fetchone()
    return int(row[0]) + 1


def registered_exists(db: sqlite3.Connection, name: str, version: int) -> bool:
    return db.execute("SELECT 1 FROM registered WHERE name = ? AND version = ?", (name, version)).fetchone() is not None


def insert_registered(db: sqlite3.Connection, record: dict[str, Any], version: int) -> dict[str, Any]:
    record = dict(record, version=str(version))
    db.execute(
        "INSERT INTO registered(name, version, created_at, record) VALUES (?, ?, ?, ?)",
        (record["name"], version, record["created_at"], json.dumps(record)),
    )
    return record


def registered_rows(db: sqlite3.Connection) -> list[tuple[str, int, str]]:
    """Every registered version as (name, version, raw record), for the registry's sweep."""
    return [(r[0], int(r[1]), r[2]) for r in db.execute("SELECT name, version, record FROM registered")]


def delete_registered(db: sqlite3.Connection, name: str, version: int) -> None:
    db.execute("DELETE FROM registered WHERE name = ? AND version = ?", (name, version))


def parse_record(raw: Any, name: Any, version: Any = None) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except (TypeError, ValueError) as exc:
        why = f"not valid JSON: {str(exc)[:80]}"
    else:
        if isinstance(record, dict):
            return record
        why = f"a JSON {type(record).__name__}, not an object"
    damaged = {"name": str(name), DAMAGED: why}
    if version is not None:
        damaged["version"] = str(version)
    return damaged


def damage_reason(exc: Exception) -> str:
    """Why a record that parsed could still not be read: the field missing or the value refused."""
    if isinstance(exc, KeyError):
        return f"field {exc} missing"
    return f"a bad value ({str(exc)[:80]})"
