"""Opt-in engagement metrics: nothing without consent, atomic thread-safe writes, the summary for `unireps
analytics`."""

import sqlite3
import threading

import numpy as np
import pytest

pytest.importorskip("gradio")

from unireps.app import analytics  # noqa: E402
from unireps.app.analytics import Analytics, summary, summary_table  # noqa: E402


def test_nothing_recorded_without_opt_in(tmp_path):
    db = tmp_path / "a.sqlite"
    a = Analytics(db)
    assert a.record(False, "s1", "/multimodal", "tab_view", "1. Try it") is False
    assert a.record(False, "s1", "/multimodal", "upload", "image") is False
    assert not db.exists()
    s = summary(db)
    assert s["events"] == 0 and s["sessions"] == 0 and s["tab_views"] == {}


def test_opt_in_writes_and_summary_aggregates(tmp_path):
    db = tmp_path / "a.sqlite"
    a = Analytics(db)
    assert a.record(True, "s1", "/unireps-multimodal", "tab_view", "The puzzle")
    a.record(True, "s1", "/unireps-multimodal", "tab_view", "Brain")
    a.record(True, "s1", "/unireps-multimodal", "tab_time", "The puzzle", 12.5)
    a.record(True, "s2", "/multimodal", "tab_time", "The puzzle", 2.5)
    a.record(True, "s2", "/multimodal", "upload", "image")
    a.record(True, "s2", "/multimodal", "models", "zoo:a + zoo:b")
    a.record(True, "s3", "/multimodal", "models", "zoo:a + zoo:b")
    s = summary(db)
    assert s["events"] == 7 and s["sessions"] == 3
    assert s["tab_views"] == {"The puzzle": 1, "Brain": 1}
    assert s["time_on_tab_s"]["The puzzle"] == {"total": 15.0, "median": 7.5, "n": 2}
    assert s["uploads"] == {"image": 1} and s["uploads_total"] == 1
    assert s["model_combinations"] == {"zoo:a + zoo:b": 2}
    assert s["routes"] == {"/unireps-multimodal": 3, "/multimodal": 4}
    assert s["first"] <= s["last"]
    t = summary_table(db)
    assert {"metric", "name", "value"} == set(t.columns)
    assert int(t[(t.metric == "model_combination")].value.iloc[0]) == 2


def test_no_personal_data_columns(tmp_path):
    db = tmp_path / "a.sqlite"
    Analytics(db).record(True, "s", "/multimodal", "upload", "image")
    cols = [r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(events)")]
    assert cols == ["id", "ts", "session", "route", "kind", "name", "value"]


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown analytics event kind"):
        Analytics(tmp_path / "a.sqlite").record(True, "s", "/multimodal", "keystrokes", "x")


def test_concurrent_writers_lose_nothing(tmp_path):
    db = tmp_path / "a.sqlite"
    a = Analytics(db)
    errors = []

    def work(i):
        try:
            for j in range(10):
                assert a.record(True, f"s{i}", "/multimodal", "tab_view", f"tab{j % 3}")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = summary(db)
    assert s["events"] == 160 and s["sessions"] == 16
    assert sum(s["tab_views"].values()) == 160


def test_default_db_path_env(monkeypatch, tmp_path):
    monkeypatch.setenv("UNIREPS_ANALYTICS_DB", str(tmp_path / "x.sqlite"))
    assert analytics.default_db_path() == tmp_path / "x.sqlite"
    assert summary()["db_path"] == str(tmp_path / "x.sqlite")


def test_summary_reads_only_and_refuses_a_foreign_database(tmp_path):
    """summary() on another program's SQLite file says so and leaves the file as it was (no tables added)."""


    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE notes (x TEXT)")
    before = other.read_bytes()
    with pytest.raises(ValueError, match="not a unireps analytics database"):
        summary(other)
    assert other.read_bytes() == before
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ValueError, match="not a readable SQLite database"):
        summary(junk)


# ------------------------------------------------------------------------------------------------ tab clock


@pytest.fixture
def clock(tmp_path, monkeypatch):
    """An Analytics whose clock reads a fake time (``now[0]``, seconds)."""
    now = [1000.0]
    monkeypatch.setattr(analytics.time, "time", lambda: now[0])
    a = Analytics(tmp_path / "a.sqlite")
    return a, now


def test_time_on_the_last_tab_is_counted_by_heartbeats_and_leave(clock):
    a, now = clock
    a.clock.start("s1", "/r", "The puzzle")
    now[0] += 12
    assert a.clock.switch(True, "s1", "/r", "Brain") == pytest.approx(12)
    now[0] += 30
    assert a.clock.beat(True, "s1", "heartbeat") == pytest.approx(30)
    now[0] += 7
    assert a.clock.beat(True, "s1", "leave") == pytest.approx(7)  # the last tab before leaving
    assert a.clock.beat(True, "s1", "heartbeat") == 0  # a closed session counts nothing more
    s = summary(a.db_path)
    assert s["time_on_tab_s"]["Brain"] == {"total": 37.0, "median": 37.0, "n": 1}
    assert s["time_on_tab_s"]["The puzzle"]["total"] == 12.0
    assert s["leaves"] == {"Brain": 1} and s["tab_views"] == {"Brain": 1}


def test_hidden_time_is_not_counted_and_gaps_are_capped(clock):
    a, now = clock
    a.clock.start("s1", "/r", "Theory")
    now[0] += 5
    assert a.clock.beat(True, "s1", "hidden") == pytest.approx(5)
    now[0] += 3600  # an hour in another browser tab
    assert a.clock.beat(True, "s1", "visible") == 0
    now[0] += 4
    assert a.clock.switch(True, "s1", "/r", "Brain") == pytest.approx(4)
    now[0] += 10_000  # a lost heartbeat / suspended laptop: at most max_gap counted
    assert a.clock.beat(True, "s1", "heartbeat") == pytest.approx(a.clock.max_gap)
    assert summary(a.db_path)["time_on_tab_s"]["Theory"]["total"] == 9.0


def test_beats_record_nothing_without_opt_in_and_refuse_unknown_events(clock):
    a, now = clock
    a.clock.start("s1", "/r", "Theory")
    now[0] += 5
    a.clock.beat(False, "s1", "heartbeat")
    a.clock.beat(False, "s1", "leave")
    assert summary(a.db_path)["events"] == 0
    assert a.clock.beat(True, "nobody", "heartbeat") == 0
    with pytest.raises(ValueError, match="unknown page event"):
        a.clock.beat(True, "s1", "scroll")


def test_median_time_is_over_sessions(tmp_path):
    a = Analytics(tmp_path / "a.sqlite")
    for sid, chunks in (("s1", (30, 30, 10)), ("s2", (5,)), ("s3", (20,))):
        for c in chunks:
            a.record(True, sid, "/r", "tab_time", "Brain", c)
    assert summary(a.db_path)["time_on_tab_s"]["Brain"] == {"total": 95.0, "median": 20.0, "n": 3}


# ------------------------------------------------------------------------------------------------ dashboard


def test_dashboard_figures_count_what_was_recorded(tmp_path):
    from unireps.app.dashboard import dashboard_figures

    a = Analytics(tmp_path / "a.sqlite")
    for sid in ("s1", "s2", "s3"):
        a.record(True, sid, "/r", "tab_view", "Explorer")
        a.record(True, sid, "/r", "models", "zoo:a + zoo:b")
    a.record(True, "s1", "/r", "models", "zoo:a + zoo:c")
    a.record(True, "s2", "/r", "upload", "image")
    a.record(True, "s2", "/r", "tab_time", "Explorer", 90.0)
    text, figs, table = dashboard_figures(a.db_path)
    assert "**9 events** from **3 sessions**" in text and "4 comparisons" in text and "1 uploads" in text
    bars = figs["combinations"].data[0]
    assert dict(zip(bars.y, bars.x)) == {"a +<br>b": 3, "a +<br>c": 1}
    assert dict(zip(figs["tab_views"].data[0].y, figs["tab_views"].data[0].x)) == {"Explorer": 3}
    assert figs["time_on_tab"].data[0].x[0] == pytest.approx(1.5)  # minutes
    assert figs["time_on_tab"].data[0].y[0] == "Explorer<br>median 90 s, 1 session(s)"
    series = {t.name: sum(t.y) for t in figs["activity"].data}
    assert series == {"comparisons": 4, "tab views": 3, "uploads (image)": 1, "sessions": 3}
    heat = figs["combinations_over_time"].data[0]
    assert list(heat.y) == ["a +<br>b", "a +<br>c"] and np.nansum(heat.z) == 4
    assert {"metric", "name", "value"} == set(table.columns)


def test_dashboard_is_off_unless_enabled(monkeypatch):
    from types import SimpleNamespace

    from unireps.app.dashboard import enabled

    monkeypatch.delenv("UNIREPS_DASHBOARD", raising=False)
    assert not enabled(SimpleNamespace()) and not enabled(SimpleNamespace(dashboard=False))
    assert enabled(SimpleNamespace(dashboard=True))
    monkeypatch.setenv("UNIREPS_DASHBOARD", "1")
    assert enabled(SimpleNamespace(dashboard=False))
