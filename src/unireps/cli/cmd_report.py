"""``unireps report`` (the blog post from a real run), ``unireps demo`` (the README's main job) and
``unireps zoo``."""

from __future__ import annotations

import pandas as pd

from .common import add_json, emit

REPORT_PRESETS = ("default", "full")  # unireps.report.standard.REPORT_PRESETS (importing it loads torch)


def _add_run_options(p, out_default: str) -> None:
    p.add_argument("--out", default=out_default, help=f"run folder (default: {out_default})")
    p.add_argument("--preset", default="default", choices=REPORT_PRESETS,
                   help="zoo preset the analyses run on (the tiny preset, for tests, lacks the families, seeds and "
                   "checkpoints the standard analyses compare)")
    p.add_argument("--n", type=int, default=500, help="held-out shapes stimuli (default 500)")
    p.add_argument("--n-boot", type=int, default=100, help="bootstrap resamples (default 100)")
    p.add_argument("--permutations", type=int, default=100, help="permutations (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--date", default=None, help="post date YYYY-MM-DD (default: today)")
    p.add_argument("--no-applications", action="store_true", help="skip stitching, merging and transfer")
    p.add_argument("--author", action="append", default=[], metavar="NAME",
                   help="a byline author (repeat for several; default: an anonymous byline, as for review)")
    p.add_argument("--affiliation", action="append", default=[], metavar="TEXT",
                   help="the authors' affiliation: once for all authors, or once per --author in order")
    p.add_argument("--url", action="append", default=[], metavar="URL",
                   help="an author's web page: once for all, or once per --author (default: none)")
    p.add_argument("--no-screenshots", action="store_true",
                   help="skip the screenshots of the app in headless Chromium (the post then says they were skipped)")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="YAML file with 'authors: [{name, affiliation, url}, ...]' (the options above win)")


def register(sub) -> None:
    r = sub.add_parser("report", help="run the standard analyses and write the UniReps blog post; "
                       "`unireps report check RUN_DIR` checks a written post",
                       description="Build the zoo (cached), run every standard analysis, write tables, figures, "
                       "numbers and provenance, the blog submission tree (_posts/, assets/) and a standalone HTML "
                       "rendering; check the post against the blog's rules and the run's numbers. "
                       "`unireps report check RUN_DIR` only checks: the blog's submission rules, and that every "
                       "number in the post equals the run's (the post re-rendered from RUN_DIR).")
    r.add_argument("action", nargs="?", default="run", choices=("run", "check"),
                   help="run (default): the analyses and the post; check: check the post in RUN_DIR")
    r.add_argument("run_dir", nargs="?", default=None, help="with check: the run folder (default: --out)")
    _add_run_options(r, "runs/report")
    add_json(r)
    r.set_defaults(func=run_report)

    d = sub.add_parser("demo", help="the main job: zoo, analyses, report, then the interactive app",
                       description="Build the embedded default (the zoo), run the standard analyses, write the "
                       "report, print where everything is, then serve the app on 127.0.0.1 (--no-serve to stop "
                       "after the report).")
    _add_run_options(d, "runs/demo")
    d.add_argument("--no-serve", action="store_true", help="stop after writing the report")
    d.add_argument("--no-realnets", action="store_true",
                   help="skip the real pretrained EfficientNet-Lite analyses on the 92 photographs")
    d.add_argument("--port", type=int, default=7860)
    add_json(d)
    d.set_defaults(func=run_demo)

    z = sub.add_parser("zoo", help="list or build the zoo of small models trained here",
                       description="`unireps zoo` lists the zoo; `unireps zoo build` trains what is missing.")
    z.add_argument("action", nargs="?", default="list", choices=("list", "build"))
    z.add_argument("--preset", default="default", choices=("tiny", "default", "full", "all"))
    z.add_argument("--force", action="store_true", help="retrain even if cached")
    add_json(z)
    z.set_defaults(func=run_zoo)


def _check(args) -> None:
    """Bad options fail now, not after the zoo is built and the analyses have run."""
    import datetime

    from .common import check_out, positive

    positive("--n", args.n, 2)
    positive("--n-boot", args.n_boot, 0)
    positive("--permutations", args.permutations, 0)
    if args.n_boot == 1:
        raise ValueError("--n-boot 1: use 0 (no confidence intervals) or at least 2 resamples")
    if args.date is not None:
        try:
            datetime.date.fromisoformat(args.date)
        except ValueError:
            raise ValueError(f"--date {args.date!r}: write the post date as YYYY-MM-DD, e.g. 2025-04-28") from None
        if len(args.date) != 10:
            raise ValueError(f"--date {args.date!r}: write the post date as YYYY-MM-DD, e.g. 2025-04-28")
    check_out(args.out)
    _authors(args)  # a bad author list or config file fails before the run
    if getattr(args, "port", None) is not None and not getattr(args, "no_serve", True):
        from .cmd_app import check_port

        check_port(args.port)


def _config(args):
    from ..report import RunConfig

    return RunConfig(preset=args.preset, n=args.n, n_boot=args.n_boot, n_permutations=args.permutations,
                     seed=args.seed, applications=not args.no_applications)


def _authors(args):
    from ..report.post import load_authors  # no torch

    return load_authors(args.author, args.affiliation, args.url, config=args.config)


def _report(args) -> dict:
    from ..report import generate_report

    _check(args)
    capture = None
    if not args.no_screenshots:
        from ..app.screens import capture_app as capture
    res = generate_report(args.out, _config(args), date=args.date, progress=None if args.json else print,
                          authors=_authors(args), capture_app=capture)
    if res["problems"]:
        raise ValueError("the generated post breaks the blog's rules: " + "; ".join(res["problems"]))
    return res


def _summary(res: dict) -> dict:
    return {"post": str(res["post"]), "standalone": str(res["standalone"]), "out": str(res["out"]),
            "run_time_s": round(res["run_time_s"], 1), "numbers": res["results"].numbers}


def run_check(args) -> int:
    from pathlib import Path

    from ..report.check import check_run

    run_dir = Path(args.run_dir or args.out)
    if not run_dir.is_dir():
        raise ValueError(f"run folder {str(run_dir)!r} does not exist; pass the folder `unireps report --out` wrote")
    problems = check_run(run_dir)
    if args.json:
        emit({"run_dir": str(run_dir), "passed": not problems, "problems": problems}, True)
    else:
        for p in problems:
            print(f"FAIL  {p}")
        print(f"{run_dir}: " + ("the post passes the blog's rules and every number equals the run's." if not problems
                                else f"{len(problems)} problem(s)."))
    return 1 if problems else 0


def run_report(args) -> int:
    if args.action == "check":
        return run_check(args)
    if args.run_dir is not None:
        raise ValueError(f"unexpected argument {args.run_dir!r}: a run folder is given to `unireps report check`")
    res = _report(args)
    if args.json:
        emit(_summary(res), True)
        return 0
    out = res["out"]
    print(f"\nReport written in {res['run_time_s'] / 60:.1f} min:\n  post        {res['post']}\n"
          f"  standalone  {res['standalone']}\n  tables      {out / 'tables'}\n  figures     {out / 'figures'}\n"
          f"  numbers     {out / 'numbers.json'}\nThe post passes the blog's rules and every number equals the run's "
          f"(unireps report check {out}).")
    return 0


def _realnets(args) -> dict | None:
    """The real pretrained networks first: EfficientNet-Lite0/1/2 and their twins on the 92 photographs."""
    if args.no_realnets:
        return None
    from pathlib import Path

    from ..report.realnets import run_realnets

    _check(args)
    return run_realnets(Path(args.out) / "realnets", n_permutations=max(int(args.permutations), 1), seed=args.seed,
                        progress=None if args.json else print)


def print_realnets(real: dict) -> None:
    n = real["numbers"]
    nets = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
    print("\nReal pretrained networks: EfficientNet-Lite0/1/2, pretrained on ImageNet (real weights), vs their "
          "untrained twins, on the 92 object photographs (Kriegeskorte et al. 2008; n = 92):")
    for target in ("human_IT (4 subjects)", "monkey_IT"):
        cells = [f"{m.split('-')[1]} {n[f'brain_heldout|{m}|{target}']:.3f} (twin "
                 f"{n[f'brain_heldout|{m}-untrained|{target}']:.3f})" for m in nets]
        print(f"  {target:24s} held-out RSA of the split-half-selected layer: {', '.join(cells)}")
    print(f"  {'':24s} human IT noise ceiling on the held-out halves: [{n['ceiling_lower_heldout']:.3f}, "
          f"{n['ceiling_upper_heldout']:.3f}]")
    kinds = ("trained-trained", "untrained-untrained", "trained-untrained")
    print("  CKA across scale (depth-matched mean): " + ", ".join(
        f"{k} {n[f'scale_cka_depth_matched_mean|{k}']:.3f}" for k in kinds if f"scale_cka_depth_matched_mean|{k}" in n))
    for metric in ("mutual_knn", "linear_cka"):
        cells = [f"{m.split('-')[1]} {n[f'lm_{metric}_pooled|{m}']:.3f} (twin "
                 f"{n[f'lm_{metric}_pooled|{m}-untrained']:.3f}, null {n[f'lm_{metric}_pooled_null|{m}']:.3f})"
                 for m in nets]
        print(f"  vs MiniLM captions, {metric:10s} (pooled): {', '.join(cells)}")
    print(f"  details: {real['markdown']}")


def run_demo(args) -> int:
    real = _realnets(args)
    res = _report(args)
    n = res["results"].numbers
    if args.json:
        emit(_summary(res) | ({"realnets": real["numbers"]} if real else {}), True)
    else:
        if real is not None:
            print_realnets(real)
        print("\nStand-ins (small models trained here for minutes on synthetic shapes; they stand in for CLIP, "
              "SigLIP, ALIGN, BLIP...). Headline numbers (held-out shapes images):")
        for key in ("cross_family_linear_cka_trained_mean", "cross_family_linear_cka_untrained_mean",
                    "seed_linear_cka_mean", "trained_vs_untrained_linear_cka_mean", "identification_linear_cka",
                    "identification_cca", "brain_best_human", "ceiling_lower", "ceiling_upper"):
            if key in n:
                print(f"  {key:42s} {n[key]:.3f}")
        out = res["out"]
        print(f"\nEverything is in {out}/: tables/, figures/, numbers.json, provenance.json,\n"
              f"  the blog post {res['post']}\n  and its standalone rendering {res['standalone']}")
    if args.no_serve:
        return 0
    import contextlib
    import sys

    from ..app import launch

    # with --json, stdout holds the JSON summary only: the server's messages go to stderr
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        print(f"\nServing the interactive module on http://127.0.0.1:{args.port}/unireps-multimodal (Ctrl-C to stop)")
        launch(host="127.0.0.1", port=args.port)
    return 0


def run_zoo(args) -> int:
    from ..zoo import build, list_zoo

    if args.action == "build":
        build(preset=args.preset, force=args.force, progress=not args.json)
    rows = list_zoo(args.preset)
    flat = [{k: v for k, v in r.items() if k != "summary"} | (r.get("summary") or {}) for r in rows]
    cols = [c for c in ("name", "family", "objective", "seed", "steps", "built", "i2t_r1", "t2i_r1", "probe_shape",
                        "probe_colour", "train_time_s") if c in pd.DataFrame(flat)]
    emit(flat, args.json, pd.DataFrame(flat)[cols])
    return 0
