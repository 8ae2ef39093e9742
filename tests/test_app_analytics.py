"""Opt-in engagement metrics: nothing without consent, atomic thread-safe writes, the summary for `unireps
analytics`."""

import sqlite3
import threading

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
