"""SQLite records of the local workspace (WAL mode, safe for several processes).

The app, the CLI, job runners and endpoint servers all open the same file.
Each kind of record is a table keyed by name with its fields as JSON, so a new
field needs no migration; the columns we filter on are real columns.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator

from ..errors import StorageError
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
"""


DAMAGED = "damaged"  # key of the placeholder record read for a row whose record is not a JSON object


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
            db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

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
    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Records from ``SELECT record, name[, version] ...``; a row whose record is not a JSON object comes back as
        ``{"name": name, "damaged": why}`` so that one bad row does not hide the others."""
        with self._mapped():
            rows = self._conn().execute(sql, args).fetchall()
        return [parse_record(*r) for r in rows]

    def _load(self, raw: Any, kind: str, name: str) -> dict[str, Any]:
        """A record about to be changed: a damaged one stops the change with a one-line error."""
        record = parse_record(raw, name)
        if DAMAGED in record:
            raise StorageError(f"the {kind} {name!r} has a damaged record in {self.path} ({record[DAMAGED]}); "
                               "other records are unaffected")
        return record

    # -- jobs ------------------------------------------------------------
    def put_job(self, record: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO jobs(name, status, created_at, record) VALUES (?, ?, ?, ?)",
                (record["name"], record["status"], record["created_at"], json.dumps(record)),
            )

    def get_job(self, name: str) -> dict[str, Any] | None:
        rows = self.query("SELECT record, name FROM jobs WHERE name = ?", (name,))
        return rows[0] if rows else None

    def list_jobs(self) -> list[dict[str, Any]]:
        return self.query("SELECT record, name FROM jobs ORDER BY created_at DESC")

    def update_job(self, name: str, **changes: Any) -> dict[str, Any]:
        """Read-modify-write one job inside a single write transaction."""
        with self.transaction() as db:
            row = db.execute("SELECT record, name FROM jobs WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise KeyError(name)
            record = self._load(row[0], "job", name)
            record.update(changes)
            db.execute(
                "UPDATE jobs SET status = ?, record = ? WHERE name = ?",
                (record["status"], json.dumps(record), name),
            )
        return record

    def update_job_if(self, name: str, allowed_from: tuple[str, ...], **changes: Any) -> dict[str, Any] | None:
        """Like update_job, but only while the job's status is one of ``allowed_from``."""
        with self.transaction() as db:
            row = db.execute("SELECT record, name FROM jobs WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise KeyError(name)
            record = self._load(row[0], "job", name)
            if record.get("status") not in allowed_from:
                return None
            record.update(changes)
            db.execute(
                "UPDATE jobs SET status = ?, record = ? WHERE name = ?",
                (record["status"], json.dumps(record), name),
            )
        return record

    # -- catalog models ----------------------------------------------------
    def put_model(self, record: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO models(name, version, created_at, record) VALUES (?, ?, ?, ?)",
                (record["name"], str(record["version"]), record.get("created_at", time.time()), json.dumps(record)),
            )

    def list_models(self) -> list[dict[str, Any]]:
        return self.query("SELECT record, name, version FROM models ORDER BY name, version")

    def delete_model(self, name: str, version: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM models WHERE name = ? AND version = ?", (name, version))

    # -- registered models -------------------------------------------------
    def add_registered(self, record: dict[str, Any], version: int | None = None) -> dict[str, Any]:
        """Insert the next version (1, 2, ...) of a registered model; versions are never replaced."""
        with self.transaction() as db:
            if version is None:
                version = next_registered_version(db, record["name"])
            elif registered_exists(db, record["name"], version):
                raise FileExistsError(f"{record['name']}:{version}")
            return insert_registered(db, record, version)

    def list_registered(self, name: str | None = None) -> list[dict[str, Any]]:
        if name:
            return self.query("SELECT record, name, version FROM registered WHERE name = ? ORDER BY version", (name,))
        return self.query("SELECT record, name, version FROM registered ORDER BY name, version")

    # -- endpoints -----------------------------------------------------------
    def put_endpoint(self, record: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO endpoints(name, state, created_at, record) VALUES (?, ?, ?, ?)",
                (record["name"], record["state"], record["created_at"], json.dumps(record)),
            )

    def get_endpoint(self, name: str) -> dict[str, Any] | None:
        rows = self.query("SELECT record, name FROM endpoints WHERE name = ?", (name,))
        return rows[0] if rows else None

    def list_endpoints(self) -> list[dict[str, Any]]:
        return self.query("SELECT record, name FROM endpoints ORDER BY created_at")

    def update_endpoint(self, name: str, **changes: Any) -> dict[str, Any]:
        with self.transaction() as db:
            row = db.execute("SELECT record, name FROM endpoints WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise KeyError(name)
            record = self._load(row[0], "endpoint", name)
            record.update(changes)
            db.execute(
                "UPDATE endpoints SET state = ?, record = ? WHERE name = ?",
                (record["state"], json.dumps(record), name),
            )
        return record

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
