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
from .standard import RunConfig, RunResults, finish_federated, run_standard, start_federated


def generate_report(out_dir, cfg: RunConfig | None = None, date: str | None = None, slug: str = SLUG,
                    progress=print, authors: list[Author] | None = None, capture_app=None, federated=None) -> dict:
    """Run the standard analyses and the post's snippets, then write tables, figures, numbers, provenance, the
    submission tree, its standalone rendering, and check the post.

    ``capture_app(folder) -> {"files": [...], "reason": str}`` takes the screenshots of the interactive module
    (the CLI passes :func:`unireps.app.screens.capture_app`; the report package does not import the app).
    ``federated``: the federated section's child process, if :func:`start_federated` started it earlier; it is
    collected after the snippets and screenshots, which run beside it.
    """
    from ..viz.png import warm_up

    cfg = cfg or RunConfig()
    out = Path(out_dir)
    t0 = time.perf_counter()
    load_start = _load_average()
    warm_up()  # the figures' PNG browser starts beside the analyses
    results = run_standard(cfg, progress=progress, federated=federated, collect_federated=False)
    try:
        return _finish_report(out, cfg, results, t0, load_start, date, slug, progress, authors, capture_app)
    finally:
        if results.pending_federated is not None:  # a later step failed: end the child too
            results.pending_federated.stop()


def _finish_report(out: Path, cfg: RunConfig, results: RunResults, t0: float, load_start: str, date, slug: str,
                   progress, authors, capture_app) -> dict:
    """The report's steps after the analyses: snippets and screenshots (while the federated child may still run),
    then the federated section's results, tables, figures, numbers, provenance and the post."""
    import datetime

    from ..io import write_json, write_table
    from ..provenance import provenance
    from ..viz import save, write_plotlyjs

    times = StepTimes()
    times.wall, times.cpu = results.timings, results.cpu_times
    real = out / "realnets" / "realnets_numbers.json"  # written just before by `unireps demo` (the real networks)
    if real.is_file():
        import json

        results.numbers.update(json.loads(real.read_text(encoding="utf-8")))
        results.figures.update(load_figures(real.parent / "figures"))
        _add_realnets_times(times, real.parent / "realnets_timings.json")
    with times.step("snippets"):
        snippets = run_snippets(cfg.n, progress=progress)
    date = date or datetime.date.today().isoformat()
    if capture_app is None:
        screens = {"files": [], "reason": "this report was generated without the app capture (the library call "
                   "generate_report(capture_app=None); `unireps report` and `unireps demo` take the screenshots)"}
    else:
        if progress:
            progress("screenshots of the interactive module in headless Chromium...")
        with times.step("screenshots"):
            screens = capture_app(out / "blog" / "assets" / "img" / f"{date}-{slug}")
    finish_federated(results, progress)
    run_time = time.perf_counter() - t0
    if progress:
        progress("writing tables and figures...")
    with times.step("write tables and figures"):
        for name, df in results.tables.items():
            write_table(df, out / "tables" / f"{name}.csv")
            write_table(df, out / "tables" / f"{name}.parquet")
        write_plotlyjs(out / "figures")
        for name, fig in results.figures.items():
            save(fig, html_path=out / "figures" / f"{name}.html", plotlyjs="plotly.min.js")
    prov = provenance(preset=cfg.preset, seed=cfg.seed, n=cfg.n, n_boot=cfg.n_boot,
                      n_permutations=cfg.n_permutations, stat_boot=cfg.stat_boot, n_splits=cfg.n_splits,
                      stat_permutations=cfg.stat_permutations, timings=results.timings, cpu_times=results.cpu_times,
                      load_average={"start": load_start, "end": _load_average()},
                      run_time=f"{run_time / 60:.1f} minutes on this machine",
                      command_line="unireps report --out " + str(out) if "unireps" not in " ".join(sys.argv)
                      else " ".join(["unireps", *sys.argv[1:]]))
    prov["figures"] = list(results.figures)
    prov["out"] = str(out)
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
    return {"post": post, "standalone": standalone, "problems": problems, "results": results, "out": out,
            "run_time_s": run_time}


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
           "finish_federated", "generate_report", "load_authors", "render_standalone", "run_snippets", "run_standard",
           "start_federated", "write_post"]
