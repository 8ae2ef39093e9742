"""unireps.report: the standard analyses on the embedded default and the UniReps blog post written from them.

``generate_report(out_dir, RunConfig(...))`` runs everything and writes::

    out_dir/tables/*.csv, *.parquet     every tidy table of the run
    out_dir/figures/*.html              every figure (offline plotly, loading figures/plotly.min.js once)
    out_dir/snippets.json               the post's code snippets and the output they printed in this run
    out_dir/numbers.json                every number the post quotes
    out_dir/provenance.json             versions, seeds, command, timings
    out_dir/blog/_posts/, blog/assets/  the submission tree (one pull request's files)
    out_dir/standalone/index.html       the post rendered for local reading
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..runtime import StepTimes
from .check import check_numbers, check_post, check_run
from .post import SLUG, Author, load_authors, write_post
from .realnets import load_figures
from .snippets import run_snippets
from .standalone import render_standalone
from .standard import RunConfig, RunResults, finish_federated, result_cache, run_standard, start_federated


def generate_report(out_dir, cfg: RunConfig | None = None, date: str | None = None, slug: str = SLUG,
                    progress=print, authors: list[Author] | None = None, capture_app=None, federated=None) -> dict:
    """Run the standard analyses and the post's snippets, then write tables, figures, numbers, provenance, the
    submission tree, its standalone rendering, and check the post.

    ``capture_app(folder) -> {"files": [...], "reason": str}`` takes the screenshots of the interactive module
    (the CLI passes :func:`unireps.app.screens.capture_app`; the report package does not import the app).
    ``federated``: the federated section's child process, if :func:`start_federated` started it earlier; it is
    collected after the snippets and screenshots, which run beside it.  With ``cfg.result_cache`` set, sections
    (and the screenshots) whose key is unchanged are reused from :mod:`unireps.report.cache`; the snippets always
    run.
    """
    import datetime

    from ..viz.png import warm_up

    cfg = cfg or RunConfig()
    out = Path(out_dir)
    date = date or datetime.date.today().isoformat()
    t0 = time.perf_counter()
    load_start = _load_average()
    warm_up()  # the figures' PNG browser starts beside the analyses
    results = run_standard(cfg, progress=progress, federated=federated, collect_federated=False)
    times = StepTimes()
    times.wall, times.cpu = results.timings, results.cpu_times
    try:
        _add_realnets(results, times, out / "realnets")
        with times.step("snippets"):
            snippets = run_snippets(cfg.n, progress=progress)
        with times.step("screenshots"):
            screens = _screenshots(results, capture_app, out / "blog" / "assets" / "img" / f"{date}-{slug}",
                                   progress)
        finish_federated(results, progress)
    except BaseException:
        if results.pending_federated is not None:  # a later step failed: end the child too
            results.pending_federated.stop()
        raise
    run_time = time.perf_counter() - t0
    prov = _provenance(cfg, results, out, run_time, load_start)
    written = _write_run(out, results, times, prov, snippets, screens, date, slug, authors, progress)
    return {**written, "results": results, "out": out, "run_time_s": run_time}


def _add_realnets(results: RunResults, times: StepTimes, folder: Path) -> None:
    """The real networks' numbers, figures and step times, written just before by `unireps demo`."""
    import json

    real = folder / "realnets_numbers.json"
    if not real.is_file():
        return
    results.numbers.update(json.loads(real.read_text(encoding="utf-8")))
    results.figures.update(load_figures(folder / "figures"))
    _add_realnets_times(times, folder / "realnets_timings.json")
    meta = folder / "realnets_reused.json"
    if meta.is_file():
        results.reused["realnets"] = json.loads(meta.read_text(encoding="utf-8"))


def _screenshots(results: RunResults, capture_app, folder: Path, progress) -> dict:
    """The app's screenshots in ``folder`` (reused from the result cache when the key, the folder's name and the
    browser are unchanged)."""
    if capture_app is None:
        return {"files": [], "reason": "this report was generated without the app capture (the library call "
                "generate_report(capture_app=None); `unireps report` and `unireps demo` take the screenshots)"}
    cache = results.cache.with_variant(results.cache.variant + folder.name + _browser_stamp())
    screens = cache.load_json("screenshots", folder)
    if screens is not None:
        results.reused["screenshots"] = cache.meta("screenshots")
        return screens
    if progress:
        progress("screenshots of the interactive module in headless Chromium...")
    t, c = time.perf_counter(), time.process_time()
    screens = capture_app(folder)
    if screens.get("files"):  # a capture that failed (no browser yet) is tried again next time
        cache.store_json("screenshots", screens, folder, time.perf_counter() - t, time.process_time() - c)
    return screens


def _browser_stamp() -> str:
    """Which browser the screenshots would use (its path, size and modification time), for their cache key."""
    import os

    from ..viz.png import find_browser

    path = find_browser()
    if path is None:
        return ""
    st = os.stat(path)
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def _provenance(cfg: RunConfig, results: RunResults, out: Path, run_time: float, load_start: str) -> dict:
    from ..provenance import provenance

    prov = provenance(preset=cfg.preset, seed=cfg.seed, n=cfg.n, n_boot=cfg.n_boot,
                      n_permutations=cfg.n_permutations, stat_boot=cfg.stat_boot, n_splits=cfg.n_splits,
                      stat_permutations=cfg.stat_permutations, timings=results.timings, cpu_times=results.cpu_times,
                      load_average={"start": load_start, "end": _load_average()},
                      run_time=run_time_text(run_time, results.reused),
                      result_cache={"key": results.cache.key, "reused": results.reused},
                      command_line="unireps report --out " + str(out) if "unireps" not in " ".join(sys.argv)
                      else " ".join(["unireps", *sys.argv[1:]]))
    prov["figures"] = list(results.figures)
    prov["out"] = str(out)
    return prov


def run_time_text(run_time: float, reused: dict) -> str:
    """The run time the post states, with what was reused from the result cache and what computing it took.

    >>> run_time_text(90.0, {})
    '1.5 minutes on this machine'
    >>> text = run_time_text(30.0, {"seeds": {"wall_s": 60.0, "computed": "2026-12-07T10:00:00+00:00"}})
    >>> text.startswith("0.5 minutes on this machine, reusing 1 section (seeds) from an earlier run")
    True
    >>> text.endswith("(2026-12-07; computing it took 1.0 minutes of step time)")
    True
    """
    text = f"{run_time / 60:.1f} minutes on this machine"
    if not reused:
        return text
    days = sorted({m["computed"][:10] for m in reused.values()})
    took = sum(m["wall_s"] for m in reused.values()) / 60
    many = len(reused) > 1
    return (f"{text}, reusing {len(reused)} section{'s' if many else ''} ({', '.join(reused)}) from an earlier run "
            f"with the same code, settings and inputs ({', '.join(days)}; computing {'them' if many else 'it'} took "
            f"{took:.1f} minutes of step time{', some side by side' if many else ''})")


def _write_run(out: Path, results: RunResults, times: StepTimes, prov: dict, snippets: dict, screens: dict,
               date: str, slug: str, authors, progress) -> dict:
    """Tables, figures, numbers, provenance, the post, its standalone rendering and the check."""
    from ..io import write_json, write_table
    from ..viz import save, write_plotlyjs

    if progress:
        progress("writing tables and figures...")
    with times.step("write tables and figures"):
        for name, df in results.tables.items():
            write_table(df, out / "tables" / f"{name}.csv")
            write_table(df, out / "tables" / f"{name}.parquet")
        write_plotlyjs(out / "figures")
        for name, fig in results.figures.items():
            save(fig, html_path=out / "figures" / f"{name}.html", plotlyjs="plotly.min.js")
    write_json(out / "numbers.json", results.numbers)
    write_json(out / "provenance.json", prov)
    write_json(out / "snippets.json", snippets)
    write_json(out / "app_screens.json", screens)
    if progress:
        progress("writing the post, its standalone rendering and checking it...")
    with times.step("post, standalone and check"):
        post = write_post(results, out / "blog", date=date, slug=slug, provenance=prov, authors=authors,
                          snippets=snippets, app_screens=screens)
        standalone = render_standalone(out / "blog", out / "standalone" / "index.html")
        problems = check_run(out)
    write_json(out / "timings.json", {**times.as_dict(), "load_average": prov["load_average"]})
    return {"post": post, "standalone": standalone, "problems": problems}


def _load_average() -> str:
    import os

    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _add_realnets_times(times: StepTimes, path: Path) -> None:
    """The per-step wall and CPU seconds `unireps demo` recorded for the real networks (``realnets: <step>``)."""
    import json

    if not path.is_file():
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    for step, v in saved.get("wall_s", {}).items():
        times.wall[f"realnets: {step}"] = float(v)
    for step, v in saved.get("cpu_s", {}).items():
        times.cpu[f"realnets: {step}"] = float(v)


__all__ = ["SLUG", "Author", "RunConfig", "RunResults", "check_numbers", "check_post", "check_run",
           "finish_federated", "generate_report", "load_authors", "render_standalone", "result_cache", "run_snippets",
           "run_standard", "run_time_text", "start_federated", "write_post"]
