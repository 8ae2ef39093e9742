"""``unireps report`` (the blog post from a real run), ``unireps demo`` (the README's main job) and
``unireps zoo``."""

from __future__ import annotations

from .common import add_json, emit

REPORT_PRESETS = ("default", "full")  # unireps.report.standard.REPORT_PRESETS (importing it loads torch)


def _add_run_options(p, out_default: str) -> None:
    p.add_argument("--out", default=out_default, help=f"run folder (default: {out_default})")
    p.add_argument("--preset", default="default", choices=REPORT_PRESETS,
                   help="zoo preset the analyses run on (the tiny preset, for tests, lacks the families, seeds and "
                   "checkpoints the standard analyses compare)")
    p.add_argument("--n", type=int, default=500, help="the stand-ins' evaluation images: new shapes images drawn "
                   "from the training distribution (seed 1), not a held-out split (default 500)")
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
    p.add_argument("--recompute", action="store_true",
                   help="compute every section again instead of reusing the result cache (sections whose code, "
                   "package versions, settings and inputs are unchanged since an earlier run are reused from "
                   "$UNIREPS_CACHE/report-results; provenance.json lists them); the cache is rewritten")
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

    from .common import check_n_boot, check_out, positive

    positive("--n", args.n, 2)
    check_n_boot(args.n_boot)
    positive("--permutations", args.permutations, 0)
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
    from ..report.cache import default_root

    return RunConfig(preset=args.preset, n=args.n, n_boot=args.n_boot, n_permutations=args.permutations,
                     seed=args.seed, applications=not args.no_applications,
                     result_cache=str(default_root()), recompute=args.recompute)


def _authors(args):
    from ..report.post import load_authors  # no torch

    return load_authors(args.author, args.affiliation, args.url, config=args.config)


def _report(args, federated=None) -> dict:
    from ..report import generate_report

    _check(args)
    capture = None
    if not args.no_screenshots:
        from ..app.screens import capture_app as capture
    res = generate_report(args.out, _config(args), date=args.date, progress=None if args.json else print,
                          authors=_authors(args), capture_app=capture, federated=federated)
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

    from ..report import result_cache
    from ..report.realnets import run_realnets

    _check(args)
    return run_realnets(Path(args.out) / "realnets", n_permutations=max(int(args.permutations), 1), seed=args.seed,
                        n_boot=args.n_boot, progress=None if args.json else print,
                        result_cache=result_cache(_config(args)))


REAL_NETS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
BRAIN_ESTIMATOR = "rsa: correlation RDM, Spearman"
CKA_ESTIMATOR = "linear_cka (HSIC, unbiased=False)"


def _f(n: dict, key: str, fmt: str = ".3f") -> str:
    v = n[key]
    return format(v, fmt) if isinstance(v, int | float) else str(v)


def realnets_lines(n: dict) -> list[str]:
    """The demo's real-network summary: every number with its estimator, n, how the layer was chosen and its
    baseline (the untrained twin, the noise ceiling, the permutation null).  Lines whose numbers are missing are
    left out."""
    nets = REAL_NETS
    splits = int(n.get("realnets_n_splits", 0)) or "the"
    lines = ["Real pretrained networks: EfficientNet-Lite0/1/2, pretrained on ImageNet (real weights), each beside "
             "its untrained twin (same architecture, random init), on the 92 object photographs (Kriegeskorte et "
             "al. 2008; n = 92 stimuli).",
             f"  Brain ({BRAIN_ESTIMATOR}): the layer is chosen on half of the 92 stimuli and scored on the other "
             f"half (cross-validated; mean over {splits} category-stratified splits):"]
    for target in ("human_IT (4 subjects)", "monkey_IT"):
        keys = [f"brain_heldout|{m}{s}|{target}" for m in nets for s in ("", "-untrained")]
        if all(k in n for k in keys):
            cells = [f"{m.split('-')[1]} {n[f'brain_heldout|{m}|{target}']:.3f} (untrained twin "
                     f"{n[f'brain_heldout|{m}-untrained|{target}']:.3f})" for m in nets]
            lines.append(f"    {target:22s} {', '.join(cells)}")
    hit = "human_IT (4 subjects)"
    if all(f"brain_insample_ci_low|{m}|{hit}" in n for m in nets):
        cells = [f"{m.split('-')[1]} {n[f'brain_insample|{m}|{hit}']:.3f} [95% CI over stimuli "
                 f"{n[f'brain_insample_ci_low|{m}|{hit}']:.3f}, {n[f'brain_insample_ci_high|{m}|{hit}']:.3f}]"
                 for m in nets]
        lines.append(f"    in-sample maximum over layers, {hit} (selected and scored on all 92: biased upwards): "
                     f"{', '.join(cells)}")
    if "ceiling_lower_heldout" in n:
        lines.append(f"    human IT noise ceiling (rsatoolbox's, 4 subjects) on the same held-out halves: "
                     f"[{n['ceiling_lower_heldout']:.3f}, {n['ceiling_upper_heldout']:.3f}]; monkey IT is one RDM "
                     "(no ceiling)")
    kinds = ("trained-trained", "untrained-untrained", "trained-untrained")
    if any(f"scale_cka_depth_matched_mean|{k}" in n for k in kinds):
        lines.append(f"  Across scale ({CKA_ESTIMATOR}, n = 92; each layer vs the other network's layer at the same "
                     "relative depth, mean over layers and pairs; the untrained pairs are the baseline): " + ", ".join(
                         f"{k} {n[f'scale_cka_depth_matched_mean|{k}']:.3f}" for k in kinds
                         if f"scale_cka_depth_matched_mean|{k}" in n))
    for metric, label in (("mutual_knn", "mutual_knn (k=10)"), ("linear_cka", CKA_ESTIMATOR)):
        keys = [f"lm_{metric}_pooled{s}|{m}" for m in nets for s in ("", "_null")]
        if all(k in n for k in keys) and all(f"lm_{metric}_pooled|{m}-untrained" in n for m in nets):
            cells = [f"{m.split('-')[1]} {n[f'lm_{metric}_pooled|{m}']:.3f} (untrained twin "
                     f"{n[f'lm_{metric}_pooled|{m}-untrained']:.3f}, shuffled-pairing null "
                     f"{n[f'lm_{metric}_pooled_null|{m}']:.3f})" for m in nets]
            lines.append(f"  vs MiniLM caption embeddings, {label}, pooled layer fixed in advance (n = 92): "
                         f"{', '.join(cells)}")
    return lines + bridge_lines(n)


def bridge_lines(n: dict) -> list[str]:
    """The real-tower bridge (issue 23) in the demo summary: image->text R@1 on the test photos beside chance, the
    shuffled-pairing null and the untrained twin (left out when the run has no bridge numbers)."""
    nets = REAL_NETS
    keys = [f"bridge_i2t_r1{t}|{m}" for m in nets for t in ("", "_null")] + \
        [f"bridge_i2t_r1|{m}-untrained" for m in nets] + ["bridge_chance_r1", "bridge_n_test", "bridge_n_splits"]
    if not all(k in n for k in keys):
        return []
    cells = [f"{m.split('-')[1]} {n[f'bridge_i2t_r1|{m}']:.3f} (shuffled-pairing null "
             f"{n[f'bridge_i2t_r1_null|{m}']:.3f}, untrained twin {n[f'bridge_i2t_r1|{m}-untrained']:.3f})"
             for m in nets]
    return [f"  Bridge to MiniLM (scaled orthogonal Procrustes fit on the training photos; image->text R@1 on "
            f"{int(n['bridge_n_test'])} test photos, mean over {int(n['bridge_n_splits'])} stratified splits; "
            f"chance {n['bridge_chance_r1']:.3f}): {', '.join(cells)}"]


def stand_in_lines(n: dict) -> list[str]:
    """The demo's stand-in summary, each number labelled with its estimator, n and baseline (lines with missing
    numbers are left out)."""
    size = n.get("n_stimuli", "?")
    lines = ["Stand-ins: small models trained here for minutes on synthetic 32x32 shapes; they stand in for CLIP, "
             "SigLIP, ALIGN, BLIP, FLAVA and are not those models.",
             f"  Evaluated on n = {size} new shapes images drawn from the training distribution (seed 1; not a "
             "held-out split: they share factor combinations with training images)."]

    def add(keys, text):
        if all(k in n for k in keys):
            lines.append("  " + text())

    add(("cross_family_linear_cka_trained_mean", "cross_family_linear_cka_untrained_mean",
         "cross_family_linear_cka_shuffled_mean"),
        lambda: f"cross-family similarity, {CKA_ESTIMATOR}, mean over pairs of trained stand-ins (n = {size}): "
        f"{_f(n, 'cross_family_linear_cka_trained_mean')}; baselines: untrained twins "
        f"{_f(n, 'cross_family_linear_cka_untrained_mean')}, shuffled pairing "
        f"{_f(n, 'cross_family_linear_cka_shuffled_mean')}")
    add(("seed_linear_cka_mean", "trained_vs_untrained_linear_cka_mean"),
        lambda: f"two seeds of one stand-in, {CKA_ESTIMATOR} (n = {size}): {_f(n, 'seed_linear_cka_mean')}; "
        f"baseline: trained vs untrained {_f(n, 'trained_vs_untrained_linear_cka_mean')}")
    for m, label in (("linear_cka", CKA_ESTIMATOR), ("cca", "cca (mean canonical correlation)")):
        add((f"identification_{m}", "n_layers"),
            lambda m=m, label=label: f"layer identification rate, {label} (two seeds, {n['n_layers']} layers; "
            f"chance {1 / n['n_layers']:.3f}): {_f(n, f'identification_{m}')}"
            + (f" [95% CI {_f(n, f'identification_{m}_ci_low')}, {_f(n, f'identification_{m}_ci_high')}]"
               if f"identification_{m}_ci_low" in n else ""))
    add(("brain_trained_cv_mean", "brain_trained_cv_sd", "brain_untrained_cv_mean", "brain_trained_n_splits"),
        lambda: f"brain on the 92 photographs ({BRAIN_ESTIMATOR}, mean over 4 human-IT subjects), best stand-in "
        f"layer chosen on half of the stimuli, scored on the other (cross-validated, "
        f"{int(n['brain_trained_n_splits'])} splits): {_f(n, 'brain_trained_cv_mean')} ± "
        f"{_f(n, 'brain_trained_cv_sd')} (sd over splits); baseline: untrained twin's layers "
        f"{_f(n, 'brain_untrained_cv_mean')}")
    add(("ceiling_lower", "ceiling_upper"),
        lambda: f"human IT noise ceiling (rsatoolbox's, 4 subjects, all 92 stimuli): [{_f(n, 'ceiling_lower')}, "
        f"{_f(n, 'ceiling_upper')}]" + (f"; 95% CIs (bootstrap over stimuli and subjects) lower "
                                          f"[{_f(n, 'ceiling_lower_ci_low')}, {_f(n, 'ceiling_lower_ci_high')}]"
                                          if "ceiling_lower_ci_low" in n else ""))
    add(("brain_trained_in_sample_value", "brain_trained_null_p95", "brain_trained_p_value"),
        lambda: f"in-sample maximum over the stand-ins' layers (selected and scored on the same 92 stimuli: "
        f"biased upwards): {_f(n, 'brain_trained_in_sample_value')}; permutation null of the maximum, 95th "
        f"percentile {_f(n, 'brain_trained_null_p95')}, p = {_f(n, 'brain_trained_p_value', '.3g')}")
    return lines


def print_realnets(real: dict) -> None:
    print("\n" + "\n".join(realnets_lines(real["numbers"])))
    print(f"  details: {real['markdown']}")


def run_demo(args) -> int:
    from ..report import start_federated

    _check(args)
    federated = start_federated(_config(args), progress=None if args.json else print)  # beside the real networks
    try:
        real = _realnets(args)
        res = _report(args, federated)
    except BaseException:
        if federated is not None:
            federated.stop()
        raise
    n = res["results"].numbers
    if args.json:
        emit(_summary(res) | ({"realnets": real["numbers"]} if real else {}), True)
    else:
        if real is not None:
            print_realnets(real)
        print("\n" + "\n".join(stand_in_lines(n)))
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
    import pandas as pd

    from ..models import describe_model
    from ..zoo import build, list_zoo
    from ..zoo.adapter import zoo_model_infos

    if args.action == "build":
        build(preset=args.preset, force=args.force, progress=not args.json)
    rows = list_zoo(args.preset)
    infos = {i.name: i for i in zoo_model_infos()}
    flat = [{k: v for k, v in r.items() if k != "summary"} | (r.get("summary") or {})
            | {"description": describe_model(infos[r["load_name"]])} for r in rows]
    cols = [c for c in ("name", "description", "objective", "seed", "steps", "built", "i2t_r1", "t2i_r1",
                        "probe_shape", "probe_colour", "train_time_s") if c in pd.DataFrame(flat)]
    emit(flat, args.json, pd.DataFrame(flat)[cols])
    return 0
