"""Opt-in, local engagement metrics for the app: tab views, time on tab, number of uploads, model combinations.

Nothing is recorded unless the visitor ticks the opt-in box (off by default).  No personal data and no upload
contents are stored: an event is (time, random per-page-load session id, route, kind, name, value), where name is a
tab title, the sorted names of the models compared, or the kind of upload (never its bytes, file name or text).
Events go to one SQLite file (WAL mode, one short transaction per event under a process-wide lock, so concurrent
request threads never interleave a write).  ``summary(db_path)`` aggregates it for ``unireps analytics``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

KINDS = ("tab_view", "tab_time", "upload", "models")
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    session TEXT NOT NULL,
    route TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL
);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind);
"""
MAX_NAME = 200

_LOCK = threading.Lock()


def default_db_path() -> Path:
    """``$UNIREPS_ANALYTICS_DB`` or ``~/.cache/unireps/app_analytics.sqlite``."""
    env = os.environ.get("UNIREPS_ANALYTICS_DB")
    if env:
        return Path(env)
    return Path(os.environ.get("UNIREPS_CACHE", Path.home() / ".cache" / "unireps")) / "app_analytics.sqlite"


@contextlib.contextmanager
def _connect(db_path: str | os.PathLike):
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        yield conn
    finally:
        conn.close()


class Analytics:
    """Writer bound to one database file.  ``record`` is a no-op unless ``opted_in`` is true."""

    def __init__(self, db_path: str | os.PathLike | None = None):
        self.db_path = Path(db_path) if db_path is not None else default_db_path()

    def record(self, opted_in: bool, session: str, route: str, kind: str, name: str,
               value: float | None = None) -> bool:
        """Store one event when ``opted_in``; returns whether it was stored.  Never raises on disk errors
        (metrics must not break the app): a failed write returns False."""
        if not opted_in:
            return False
        if kind not in KINDS:
            raise ValueError(f"unknown analytics event kind {kind!r}; accepted: {', '.join(KINDS)}")
        row = (time.time(), str(session)[:64], str(route)[:64], kind, str(name)[:MAX_NAME],
               None if value is None else float(value))
        try:
            with _LOCK, _connect(self.db_path) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO events (ts, session, route, kind, name, value) VALUES (?, ?, ?, ?, ?, ?)",
                             row)
                conn.execute("COMMIT")
            return True
        except sqlite3.Error:
            return False


def summary(db_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Aggregate the engagement metrics of ``db_path`` (default: :func:`default_db_path`).

    Returns ``{"db_path", "events", "sessions", "routes": {route: events}, "tab_views": {tab: n},
    "time_on_tab_s": {tab: {"total", "median", "n"}}, "uploads": {kind: n}, "uploads_total",
    "model_combinations": {combination: n}, "first", "last"}`` (times as ISO strings, UTC).
    A missing file gives the same keys with zero counts.
    """
    path = Path(db_path) if db_path is not None else default_db_path()
    out: dict[str, Any] = {"db_path": str(path), "events": 0, "sessions": 0, "routes": {}, "tab_views": {},
                           "time_on_tab_s": {}, "uploads": {}, "uploads_total": 0, "model_combinations": {},
                           "first": None, "last": None}
    if not path.exists() or path.stat().st_size == 0:  # nothing recorded yet
        return out
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)  # read only: never alter the file
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "events" not in tables:
            raise ValueError(f"{path} is an SQLite file but not a unireps analytics database (no 'events' table); "
                             "give the file the app writes (default: unireps.app.analytics.default_db_path())")
        rows = conn.execute("SELECT ts, session, route, kind, name, value FROM events ORDER BY ts").fetchall()
    except sqlite3.DatabaseError as e:
        raise ValueError(f"{path} is not a readable SQLite database ({e}); give the analytics file the app "
                         "writes") from e
    finally:
        conn.close()
    if not rows:
        return out
    import statistics
    from datetime import UTC, datetime

    out["events"] = len(rows)
    out["sessions"] = len({r[1] for r in rows})
    times: dict[str, list[float]] = {}
    for _ts, _session, route, kind, name, value in rows:
        out["routes"][route] = out["routes"].get(route, 0) + 1
        if kind == "tab_view":
            out["tab_views"][name] = out["tab_views"].get(name, 0) + 1
        elif kind == "tab_time" and value is not None:
            times.setdefault(name, []).append(float(value))
        elif kind == "upload":
            out["uploads"][name] = out["uploads"].get(name, 0) + 1
        elif kind == "models":
            out["model_combinations"][name] = out["model_combinations"].get(name, 0) + 1
    out["uploads_total"] = sum(out["uploads"].values())
    out["time_on_tab_s"] = {k: {"total": round(sum(v), 3), "median": round(statistics.median(v), 3), "n": len(v)}
                            for k, v in times.items()}
    out["model_combinations"] = dict(sorted(out["model_combinations"].items(), key=lambda kv: -kv[1]))
    out["first"] = datetime.fromtimestamp(rows[0][0], UTC).isoformat(timespec="seconds")
    out["last"] = datetime.fromtimestamp(rows[-1][0], UTC).isoformat(timespec="seconds")
    return out


def summary_table(db_path: str | os.PathLike | None = None):
    """:func:`summary` as a tidy pandas DataFrame (columns: metric, name, value) for printing or CSV."""
    import pandas as pd

    s = summary(db_path)
    rows = [("events", "", s["events"]), ("sessions", "", s["sessions"]), ("uploads_total", "", s["uploads_total"])]
    rows += [("route_events", k, v) for k, v in s["routes"].items()]
    rows += [("tab_views", k, v) for k, v in s["tab_views"].items()]
    for k, v in s["time_on_tab_s"].items():
        rows += [("time_on_tab_total_s", k, v["total"]), ("time_on_tab_median_s", k, v["median"])]
    rows += [("uploads", k, v) for k, v in s["uploads"].items()]
    rows += [("model_combination", k, v) for k, v in s["model_combinations"].items()]
    return pd.DataFrame(rows, columns=["metric", "name", "value"])
