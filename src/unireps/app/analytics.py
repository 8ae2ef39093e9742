"""Opt-in, local engagement metrics for the app: tab views, time on tab, number of uploads, model combinations.

Nothing is recorded unless the visitor ticks the opt-in box (off by default).  No personal data and no upload
contents are stored: an event is (time, random per-page-load session id, route, kind, name, value), where name is a
tab title, the sorted names of the models compared, or the kind of upload (never its bytes, file name or text).
Events go to one SQLite file (WAL mode, one short transaction per event under a process-wide lock, so concurrent
request threads never interleave a write).  ``summary(db_path)`` aggregates it for ``unireps analytics``.

Time on a tab is counted by a server-side clock per page session (:class:`TabClock`): a tab switch closes the
interval on the tab left; the page's script (``ENGAGEMENT_JS`` in ``unireps.app.ui``) also sends a heartbeat every
30 s while the page is visible, a ``hidden`` event when it is hidden (the clock pauses until ``visible``) and a
``leave`` event when it is closed, so the time on the last tab before leaving is counted too.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

KINDS = ("tab_view", "tab_time", "upload", "models", "leave")
BEAT_EVENTS = ("heartbeat", "hidden", "visible", "leave")
HEARTBEAT_S = 30.0  # the page script's heartbeat period while visible
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
        self.clock = TabClock(self)

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


class TabClock:
    """Which tab each live page session is on, and since when: turns tab switches and the page's heartbeat /
    visibility / leave beacons into ``tab_time`` events (seconds of visible time on a tab).

    A beacon's interval is capped at ``max_gap`` seconds (a lost heartbeat or a suspended laptop must not count
    hours); hidden time is not counted.  At most ``max_sessions`` sessions are held (the oldest are dropped).

    >>> import tempfile, pathlib
    >>> a = Analytics(pathlib.Path(tempfile.mkdtemp()) / "a.sqlite")
    >>> a.clock.start("s1", "/multimodal", "Try it")
    >>> a.clock.beat(True, "s1", "leave") > 0  # seconds counted on "Try it" when the page closed
    True
    >>> summary(a.db_path)["leaves"]
    {'Try it': 1}
    """

    def __init__(self, analytics: Analytics, max_gap: float = 4 * HEARTBEAT_S, max_sessions: int = 20_000):
        self.analytics = analytics
        self.max_gap = float(max_gap)
        self.max_sessions = int(max_sessions)
        self._live: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def start(self, session: str, route: str, tab: str) -> None:
        """A page load: ``session`` is on ``tab`` from now."""
        with self._lock:
            self._live.pop(session, None)
            self._live[session] = {"route": route, "tab": tab, "since": time.time()}
            while len(self._live) > self.max_sessions:
                self._live.pop(next(iter(self._live)))

    def switch(self, opted_in: bool, session: str, route: str, tab: str, fallback: dict | None = None) -> float:
        """``session`` selected ``tab``: records the view and the time on the tab it left (``fallback``: the
        page's own {"tab", "since"} when the clock does not know the session).  Returns the seconds counted."""
        now = time.time()
        with self._lock:
            st = self._live.pop(session, None) or dict(fallback or {})
            self._live[session] = {"route": route, "tab": tab, "since": now}
        prev, since = st.get("tab"), st.get("since")
        dt = now - since if prev and since and prev != tab else 0.0
        if dt > 0:
            self.analytics.record(opted_in, session, route, "tab_time", prev, round(dt, 3))
        self.analytics.record(opted_in, session, route, "tab_view", tab)
        return dt

    def beat(self, opted_in: bool, session: str, event: str) -> float:
        """A beacon from the page: ``heartbeat`` (still here: count the time since the last one), ``hidden``
        (count it and pause), ``visible`` (resume), ``leave`` (count it and forget the session).  Returns the
        seconds counted; an unknown session counts nothing."""
        if event not in BEAT_EVENTS:
            raise ValueError(f"unknown page event {event!r}; accepted: {', '.join(BEAT_EVENTS)}")
        now = time.time()
        with self._lock:
            st = self._live.get(session)
            if st is None:
                return 0.0
            since, tab, route = st["since"], st["tab"], st["route"]
            if event == "leave":
                self._live.pop(session, None)
            else:
                st["since"] = None if event == "hidden" else (since if event == "visible" and since else now)
        dt = min(now - since, self.max_gap) if since is not None and event != "visible" else 0.0
        if dt > 0:
            self.analytics.record(opted_in, session, route, "tab_time", tab, round(dt, 3))
        if event == "leave":
            self.analytics.record(opted_in, session, route, "leave", tab)
        return dt


def _rows(path: Path) -> list[tuple]:
    """Every event of the database at ``path`` (ts, session, route, kind, name, value), oldest first; [] when the
    file does not exist yet.  Opened read-only: reading never alters the file."""
    if not path.exists() or path.stat().st_size == 0:  # nothing recorded yet
        return []
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "events" not in tables:
            raise ValueError(f"{path} is an SQLite file but not a unireps analytics database (no 'events' table); "
                             "give the file the app writes (default: unireps.app.analytics.default_db_path())")
        return conn.execute("SELECT ts, session, route, kind, name, value FROM events ORDER BY ts").fetchall()
    except sqlite3.DatabaseError as e:
        raise ValueError(f"{path} is not a readable SQLite database ({e}); give the analytics file the app "
                         "writes") from e
    finally:
        conn.close()


def events_frame(db_path: str | os.PathLike | None = None):
    """Every event as a pandas DataFrame (columns ``time`` (UTC), ``session``, ``route``, ``kind``, ``name``,
    ``value``), oldest first: what the owner's dashboard plots.

    >>> import tempfile, pathlib
    >>> a = Analytics(pathlib.Path(tempfile.mkdtemp()) / "a.sqlite")
    >>> a.record(True, "s1", "/multimodal", "models", "zoo:a + zoo:b")
    True
    >>> tuple(events_frame(a.db_path).kind)
    ('models',)
    """
    import pandas as pd

    path = Path(db_path) if db_path is not None else default_db_path()
    df = pd.DataFrame(_rows(path), columns=["ts", "session", "route", "kind", "name", "value"])
    df.insert(0, "time", pd.to_datetime(df.pop("ts").astype(float), unit="s", utc=True))
    return df


def summary(db_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Aggregate the engagement metrics of ``db_path`` (default: :func:`default_db_path`).

    Returns ``{"db_path", "events", "sessions", "routes": {route: events}, "tab_views": {tab: n},
    "time_on_tab_s": {tab: {"total", "median", "n"}}, "leaves": {tab: n}, "uploads": {kind: n}, "uploads_total",
    "model_combinations": {combination: n}, "first", "last"}`` (times as ISO strings, UTC).  Time on a tab:
    ``total`` seconds over all sessions, ``median`` of the per-session totals, ``n`` sessions; ``leaves``: the tab
    each page was closed on.
    A missing file gives the same keys with zero counts.
    """
    path = Path(db_path) if db_path is not None else default_db_path()
    out: dict[str, Any] = {"db_path": str(path), "events": 0, "sessions": 0, "routes": {}, "tab_views": {},
                           "time_on_tab_s": {}, "leaves": {}, "uploads": {}, "uploads_total": 0,
                           "model_combinations": {}, "first": None, "last": None}
    rows = _rows(path)
    if not rows:
        return out
    import statistics
    from datetime import UTC, datetime

    out["events"] = len(rows)
    out["sessions"] = len({r[1] for r in rows})
    times: dict[str, dict[str, float]] = {}
    for _ts, session, route, kind, name, value in rows:
        out["routes"][route] = out["routes"].get(route, 0) + 1
        if kind == "tab_view":
            out["tab_views"][name] = out["tab_views"].get(name, 0) + 1
        elif kind == "tab_time" and value is not None:
            per = times.setdefault(name, {})
            per[session] = per.get(session, 0.0) + float(value)
        elif kind == "leave":
            out["leaves"][name] = out["leaves"].get(name, 0) + 1
        elif kind == "upload":
            out["uploads"][name] = out["uploads"].get(name, 0) + 1
        elif kind == "models":
            out["model_combinations"][name] = out["model_combinations"].get(name, 0) + 1
    out["uploads_total"] = sum(out["uploads"].values())
    out["time_on_tab_s"] = {k: {"total": round(sum(v.values()), 3), "median": round(statistics.median(v.values()), 3),
                                "n": len(v)} for k, v in times.items()}
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
    rows += [("leaves", k, v) for k, v in s["leaves"].items()]
    rows += [("uploads", k, v) for k, v in s["uploads"].items()]
    rows += [("model_combination", k, v) for k, v in s["model_combinations"].items()]
    return pd.DataFrame(rows, columns=["metric", "name", "value"])
