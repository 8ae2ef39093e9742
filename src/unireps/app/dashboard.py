"""The owner's dashboard (route ``/dashboard``): plots of the opt-in engagement metrics — tab visits, time on each
tab, comparisons and uploads over time, the model combinations compared — read from the analytics database.

Off unless the owner enables it (``AppConfig(dashboard=True)``, ``unireps app --dashboard`` or the environment
variable ``UNIREPS_DASHBOARD=1``); ``dashboard_password`` (or ``UNIREPS_DASHBOARD_PASSWORD``) puts it behind a
login (user ``owner``).  It shows aggregates of what visitors opted in to share, never a single session.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from ..viz import style  # noqa: E402
from ..viz.figures import PALETTE  # noqa: E402
from .analytics import events_frame, summary  # noqa: E402
from .figures import placeholder, responsive  # noqa: E402

DASHBOARD_PATH = "/dashboard"
TOP_COMBINATIONS = 12


def enabled(config) -> bool:
    """Whether the dashboard is served: the config's ``dashboard`` flag or ``UNIREPS_DASHBOARD=1``."""
    return bool(getattr(config, "dashboard", False)) or os.environ.get("UNIREPS_DASHBOARD", "") in ("1", "true")


def password(config) -> str | None:
    return getattr(config, "dashboard_password", None) or os.environ.get("UNIREPS_DASHBOARD_PASSWORD") or None


def period(times: pd.Series) -> tuple[str, str]:
    """(pandas frequency, label) for the activity plots: hours when the events span under three days, else days.

    >>> period(pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)))
    ('h', 'hour')
    """
    span = (times.max() - times.min()) if len(times) else pd.Timedelta(0)
    return ("h", "hour") if span < pd.Timedelta(days=3) else ("D", "day")


def label_period(p, unit: str) -> str:
    """A period's axis label: "2026-12-06 23:00" for hours, "2026-12-06" for days.

    >>> label_period(pd.Timestamp("2026-12-06 23:00", tz="UTC"), "hour")
    '2026-12-06 23:00'
    """
    return pd.Timestamp(p).strftime("%Y-%m-%d %H:%M" if unit == "hour" else "%Y-%m-%d")


def combo_label(combination: str) -> str:
    """A model combination on two or more lines, source prefixes dropped (the full names are in the table).

    >>> combo_label("zoo:clip-s0 + zoo:siglip-s0")
    'clip-s0 +<br>siglip-s0'
    """
    return " +<br>".join(re.sub(r"^[a-z]+:", "", m.strip()) for m in combination.split(" + "))


def activity(events: pd.DataFrame) -> pd.DataFrame:
    """Counts per period (tidy: ``period``, ``series``, ``count``): comparisons (model combinations compared),
    uploads by kind, tab views and sessions started.

    >>> ev = pd.DataFrame({"time": pd.to_datetime(["2026-01-01 10:05", "2026-01-01 10:30"], utc=True),
    ...                    "session": ["s1", "s2"], "route": ["/r", "/r"], "kind": ["models", "upload"],
    ...                    "name": ["zoo:a + zoo:b", "image"], "value": [None, None]})
    >>> activity(ev).set_index("series")["count"].to_dict()
    {'comparisons': 1, 'sessions': 2, 'uploads (image)': 1}
    """
    if events.empty:
        return pd.DataFrame(columns=["period", "series", "count"])
    freq, _ = period(events.time)
    ev = events.assign(period=events.time.dt.floor(freq))
    series = {"comparisons": ev[ev.kind == "models"], "tab views": ev[ev.kind == "tab_view"]}
    for kind in sorted(ev[ev.kind == "upload"].name.unique()):
        series[f"uploads ({kind})"] = ev[(ev.kind == "upload") & (ev.name == kind)]
    rows = [pd.DataFrame({"period": g.period, "series": name}) for name, g in series.items() if len(g)]
    first = ev.sort_values("time").drop_duplicates("session")
    rows.append(pd.DataFrame({"period": first.period, "series": "sessions"}))
    out = pd.concat(rows, ignore_index=True).groupby(["period", "series"], sort=True).size()
    return out.rename("count").reset_index()


def _bar(labels, values, title: str, xtitle: str, text=None, hover=None, color=PALETTE[0]) -> go.Figure:
    fig = go.Figure(go.Bar(y=list(labels), x=list(values), orientation="h", marker_color=color, text=text,
                           hovertext=hover, hoverinfo="text" if hover is not None else None))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title=xtitle)
    style(fig, title, height=max(260, 60 + 28 * len(labels)))
    return responsive(fig, 340)


def dashboard_figures(db_path: str | os.PathLike) -> tuple[str, dict[str, go.Figure], pd.DataFrame]:
    """(a one-paragraph summary, the figures by name, the summary table) of the analytics database.

    >>> import tempfile, pathlib
    >>> from unireps.app.analytics import Analytics
    >>> a = Analytics(pathlib.Path(tempfile.mkdtemp()) / "a.sqlite")
    >>> _ = a.record(True, "s1", "/multimodal", "tab_view", "Try it")
    >>> text, figs, table = dashboard_figures(a.db_path)
    >>> tuple(figs), text.startswith("**1 events**")
    (('tab_views', 'time_on_tab', 'activity', 'combinations', 'combinations_over_time'), True)
    """
    from .analytics import summary_table

    s = summary(db_path)
    events = events_frame(db_path)
    empty = "No events yet: visitors who tick the opt-in box on a page are counted here."
    figs: dict[str, go.Figure] = {}
    views = s["tab_views"]
    figs["tab_views"] = (_bar(views, views.values(), "Tab visits", "visits") if views else placeholder(empty))
    times = s["time_on_tab_s"]
    if times:
        tabs = sorted(times, key=lambda k: -times[k]["total"])
        figs["time_on_tab"] = _bar(
            [f"{t}<br>median {times[t]['median']:.0f} s, {times[t]['n']} session(s)" for t in tabs],
            [times[t]["total"] / 60 for t in tabs], "Time on each tab (minutes, all sessions)", "minutes",
            color=PALETTE[1])
    else:
        figs["time_on_tab"] = placeholder(empty)
    act = activity(events)
    if len(act):
        _, unit = period(events.time)
        fig = go.Figure()
        periods = [label_period(p, unit) for p in sorted(act.period.unique())]
        for i, (name, g) in enumerate(act.groupby("series", sort=False)):
            fig.add_trace(go.Bar(x=[label_period(p, unit) for p in g.period], y=g["count"], name=name,
                                 marker_color=PALETTE[i % len(PALETTE)]))
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=periods)
        fig.update_yaxes(title=f"count per {unit}", rangemode="tozero")
        fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.25})
        figs["activity"] = responsive(style(fig, f"Comparisons, uploads, tab views and sessions per {unit} (UTC)",
                                            height=380), 340)
    else:
        figs["activity"] = placeholder(empty)
    combos = dict(list(s["model_combinations"].items())[:TOP_COMBINATIONS])
    figs["combinations"] = (_bar([combo_label(c) for c in combos], combos.values(),
                                 f"Model combinations compared (top {len(combos)})",
                                 "comparisons", color=PALETTE[2]) if combos else placeholder(empty))
    figs["combinations_over_time"] = combinations_over_time(events, list(combos))
    text = (f"**{s['events']} events** from **{s['sessions']} sessions** ({s['first'] or '–'} to {s['last'] or '–'}, "
            f"UTC); {sum(views.values())} tab visits, {sum(s['model_combinations'].values())} comparisons, "
            f"{s['uploads_total']} uploads.  Only visitors who ticked the opt-in box are counted.  Database: "
            f"`{Path(s['db_path']).name}`.")
    return text, figs, summary_table(db_path)


def combinations_over_time(events: pd.DataFrame, combos: list[str]) -> go.Figure:
    """Heatmap of how often each of ``combos`` was compared per period."""
    ev = events[events.kind == "models"] if len(events) else events
    ev = ev[ev.name.isin(combos)] if len(ev) else ev
    if not len(ev):
        return placeholder("No model comparisons yet.")
    freq, unit = period(events.time)
    counts = (ev.assign(period=ev.time.dt.floor(freq)).groupby(["name", "period"]).size().unstack(fill_value=0)
              .reindex([c for c in combos if c in set(ev.name)]))
    z = counts.to_numpy(float)
    fig = go.Figure(go.Heatmap(z=np.where(z > 0, z, np.nan), x=[label_period(p, unit) for p in counts.columns],
                               y=[combo_label(c) for c in counts.index], colorscale="Viridis",
                               colorbar={"thickness": 12},
                               hovertemplate="%{y}<br>%{x}: %{z} comparisons<extra></extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(type="category")
    style(fig, f"Model combinations per {unit} (UTC)", height=max(280, 80 + 26 * len(counts)))
    return responsive(fig, 420)


def build_dashboard(analytics):
    """The dashboard's gr.Blocks (every event named: ``/dashboard_on_load``, ``/dashboard_refresh``)."""
    import gradio as gr

    names = ("tab_views", "time_on_tab", "activity", "combinations", "combinations_over_time")

    def refresh():
        text, figs, table = dashboard_figures(analytics.db_path)
        return [text, *(figs[n] for n in names), table]

    with gr.Blocks(title="unireps — owner's dashboard") as demo:
        gr.Markdown("# Owner's dashboard\nThe app's opt-in engagement metrics (aggregates only).")
        text = gr.Markdown(elem_id="dash-summary")
        btn = gr.Button("Refresh", variant="secondary")
        with gr.Row():
            plots = [gr.Plot(label="Tab visits", min_width=320), gr.Plot(label="Time on each tab", min_width=320)]
        plots.append(gr.Plot(label="Activity over time"))
        with gr.Row():
            plots += [gr.Plot(label="Model combinations", min_width=320),
                      gr.Plot(label="Model combinations over time", min_width=320)]
        table = gr.Dataframe(label="All metrics (tidy)", interactive=False)
        outputs = [text, *plots, table]
        demo.load(refresh, outputs=outputs, api_name="dashboard_on_load")
        btn.click(refresh, outputs=outputs, api_name="dashboard_refresh")
    return demo
