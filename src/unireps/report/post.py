"""Write the UniReps blog post (al-folio, Distill layout) from a run's results.

Every number in the text comes from ``RunResults.numbers`` (a missing number is an error, never a blank);
statements about the literature carry ``<d-cite>`` keys that resolve in the generated .bib.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write_text
from .bib import bibtex

SLUG = "representational_convergence_in_a_small_world"
FIGURES = ("embeddings", "heatmap_linear_cka", "depth", "layers", "brain_human", "brain_depth", "stitch_diagram",
           "stitching", "lmc", "lmc_barriers")


TITLE = "Representational convergence in a small world"
REALNETS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
REALNETS_KEY = "brain_heldout|efficientnet-lite0|human_IT (4 subjects)"  # present when the demo ran the real nets


@dataclass
class Author:
    """One byline entry.  The default is an anonymous byline (the blog's review is double-blind); set real ones
    with ``--author`` / ``--affiliation`` or an ``authors:`` list in a ``--config`` YAML file."""

    name: str = "Anonymous"
    url: str = ""
    affiliations: str = "Anonymous"


def load_authors(names=(), affiliations=(), urls=(), config: str | Path | None = None) -> list[Author]:
    """Authors from command-line lists (``affiliations``/``urls``: one for all, or one per author) and/or a YAML
    config file with ``authors: [{name, affiliation, url}]``; the command line wins.  Empty: one anonymous author.

    >>> tuple(a.affiliations for a in load_authors(["Ada", "Alan"], ["Analytical Engines Ltd"]))
    ('Analytical Engines Ltd', 'Analytical Engines Ltd')
    """
    entries: list[dict] = []
    if config is not None:
        import yaml

        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} not found; write a YAML file with an 'authors:' list")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = data.get("authors") or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("name") for e in entries):
            raise ValueError(f"{path}: 'authors' must be a list of entries each with a 'name' (and optionally "
                             "'affiliation' and 'url')")
    if names:
        entries = [{"name": n} for n in names]
    for field, values in (("affiliation", affiliations), ("url", urls)):
        values = list(values or [])
        if not values:
            continue
        if len(values) not in (1, len(entries)):
            raise ValueError(f"give one --{field} for all authors or one per author ({len(entries)}); got "
                             f"{len(values)}")
        for i, e in enumerate(entries):
            e[field] = values[0] if len(values) == 1 else values[i]
    if not entries:
        return [Author()]
    return [Author(name=str(e["name"]), url=str(e.get("url") or ""),
                   affiliations=str(e.get("affiliation") or e.get("affiliations") or "")) for e in entries]


class Numbers:
    """Formats the run's numbers; an unknown key raises KeyError naming it."""

    def __init__(self, numbers: dict):
        self.n = numbers
        self.used: dict[str, list[str]] = {}  # formatted text -> the keys that produced it (for the number check)

    def __call__(self, key: str, fmt: str = ".2f") -> str:
        out = self._format(key, fmt)
        self.used.setdefault(out, [])
        if key not in self.used[out]:
            self.used[out].append(key)
        return out

    def _format(self, key: str, fmt: str) -> str:
        if key not in self.n:
            raise KeyError(f"the post needs the number {key!r}, which the run did not produce")
        v = self.n[key]
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "yes" if v else "no"
        if fmt == "%":
            return f"{100 * float(v):.1f}%"
        if fmt == "pp":
            return f"{100 * float(v):.1f} percentage points"
        return format(v, fmt)

    def has(self, key: str) -> bool:
        """Whether the run produced ``key`` (sections that only some runs have, e.g. the real networks)."""
        return key in self.n

    def get(self, key: str) -> float:
        """The raw value (for comparisons in the prose); missing is an error as in ``__call__``."""
        self._format(key, ".2f")
        return float(self.n[key])


def _figure(key: str, name: str, caption: str, plotly: bool = True) -> str:
    img = f"assets/img/{key}/{name}.png"
    alt = html.escape(caption.split(". What to see")[0], quote=True)
    parts = [f'<figure>\n<img src="{{{{ \'{img}\' | relative_url }}}}" alt="{alt}" style="width:100%">']
    parts.append(f"<figcaption>{caption}")
    if plotly:
        url = f"{{{{ 'assets/plotly/{key}/{name}.html' | relative_url }}}}"
        parts.append(f' <a href="{url}">Interactive version.</a>')
    parts.append("</figcaption>\n</figure>\n")
    return "".join(parts)


def _iframe(key: str, name: str, height: int = 480) -> str:
    return (f"<iframe src=\"{{{{ 'assets/plotly/{key}/{name}.html' | relative_url }}}}\" frameborder='0' "
            f"scrolling='no' height=\"{height}px\" width=\"100%\"></iframe>\n")


def _cmp(a: float, b: float, more: str = "higher than", less: str = "lower than", same: str = "equal to") -> str:
    return more if a > b else less if a < b else same


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("unireps.report", "templates"), autoescape=False,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def _p_sentence(N: Numbers, n_perm) -> str:  # noqa: N803
    max_p = N.get("cross_family_linear_cka_max_p")
    if n_perm and max_p <= 1.0 / (n_perm + 1) + 1e-12:
        return (f"Every trained pair is beyond all {n_perm} permutations of the stimulus pairing (p = {max_p:.3f} for "
                f"each, the smallest value {n_perm} permutations can give).")
    return f"The largest permutation p-value among the trained pairs is {max_p:.3f}" + (
        f" with {n_perm} permutations." if n_perm else ".")


def _conclusion(N: Numbers, wmax: int) -> str:  # noqa: N803
    g = N.get
    claims = [
        ("independently trained stand-ins agree more with each other than their untrained twins do",
         g("cross_family_linear_cka_trained_mean") > g("cross_family_linear_cka_untrained_mean")),
        ("two seeds of one architecture agree more than a trained model and an untrained one",
         g("seed_linear_cka_mean") > g("trained_vs_untrained_linear_cka_mean")),
        ("linear CKA identifies corresponding layers more often than CCA",
         g("identification_linear_cka") > g("identification_cca")),
        ("stitching two seeds costs less than stitching onto a random bottom",
         g("stitch_penalty_mean") < g("stitch_control_mean")),
        (f"weight matching removes most of the interpolation barrier at width {wmax}",
         g(f"lmc_loss_barrier_w{wmax}_weight_matching") < 0.5 * g(f"lmc_loss_barrier_w{wmax}_naive")),
        ("a linear map transfers a probe from one model to another far better than no map",
         g("transfer_ridge") > g("transfer_no_map") + 0.1),
    ]
    held = [c for c, ok in claims if ok]
    failed = [c for c, ok in claims if not ok]
    text = ("In this small world, " + "; ".join(held) + "." if held
            else "In this small world none of the expected regularities held.")
    return text + (" Not observed in this run: " + "; ".join(failed) + "." if failed else "")


def _bridge_separates(N: Numbers) -> bool:  # noqa: N803
    """Whether every pretrained tower's bridge retrieves better (image->text R@1) than every untrained twin's."""
    trained = [N.get(f"bridge_i2t_r1|{m}") for m in REALNETS]
    twins = [N.get(f"bridge_i2t_r1|{m}-untrained") for m in REALNETS]
    return min(trained) > max(twins)


PROVENANCE_DEFAULTS = {"n_boot": "", "n_permutations": "", "stat_boot": "", "n_splits": "", "stat_permutations": "",
                       "preset": "default", "seed": 0, "run_time": "",
                       "command_line": "", "packages": {}, "figures": [], "out": ""}


def _snippet_markdown(snippets: dict, name: str) -> str:
    s = snippets.get(name)
    if s is None:
        raise KeyError(f"the post needs the executed snippet {name!r}, which the run did not produce")
    out = s["output"].rstrip("\n")
    return (f"```python\n{s['code'].rstrip()}\n```\n\n<p class=\"snippet-output-label\">Output (executed in this "
            f"run):</p>\n\n```text\n{out}\n```\n")


def render(key: str, N: Numbers, provenance: dict, snippets: dict | None = None,  # noqa: N803
           app_screens: dict | None = None) -> tuple[str, str]:
    """The post's abstract and body (Markdown with Liquid figure tags), rendered from the Jinja2 templates in
    ``unireps/report/templates`` with the run's numbers; a number the run lacks raises KeyError naming it."""
    prov = {**PROVENANCE_DEFAULTS, **(provenance or {})}
    figures = set(prov["figures"])
    widths = N("lmc_widths")
    ws = [int(w) for w in widths.split(", ")]
    snippets = snippets or {}
    app_screens = app_screens or {}
    env = _environment()
    ctx = {"N": N, "g": N.get, "cmp": _cmp, "realnets": N.has(REALNETS_KEY), "nets": REALNETS,
           "bridge_separates": lambda: _bridge_separates(N),
           "argmax": lambda items, pattern: max((pattern.format(i) for i in items), key=N.get),
           "prov": prov, "key": key, "wmax": max(ws), "wmin": min(ws),
           "has": lambda name: name in figures,
           "fig": lambda name, caption, plotly=True: _figure(key, name, caption, plotly),
           "iframe": lambda name, height=480: _iframe(key, name, height),
           "snippet": lambda name: _snippet_markdown(snippets, name),
           "versions": ", ".join(f"{k} {v}" for k, v in sorted(prov["packages"].items()) if v),
           "run_dir_hint": prov.get("out") or "runs/report",
           "has_app_screens": bool(app_screens.get("files")), "app_screens_reason": app_screens.get("reason", ""),
           "app_figure": _app_figure(key, app_screens)}
    abstract = re.sub(r"\s+", " ", env.get_template("abstract.md.j2").render(ctx)).strip()
    ctx["p_sentence"] = _p_sentence(N, prov.get("n_permutations") or None)
    ctx["conclusion"] = _conclusion(N, max(ws))
    return abstract, env.get_template("post.md.j2").render(ctx, abstract=abstract)


def _app_figure(key: str, app_screens: dict) -> str:
    files = app_screens.get("files") or []
    if not files:
        return ""
    imgs = "\n".join(f'<img src="{{{{ \'assets/img/{key}/{f}\' | relative_url }}}}" alt="screenshot of the '
                     f'interactive module" style="width:100%">' for f in files)
    return (f"<figure>\n{imgs}\n<figcaption>Figure 6. The interactive module, captured in headless Chromium during "
            "this report run. What to see: the model picker, the linked embedding panels and the application tabs; "
            "run <code>unireps app</code> to use it.</figcaption>\n</figure>\n")


def body(key: str, N: Numbers, provenance: dict, snippets: dict | None = None) -> str:  # noqa: N803
    """The post's body alone (see :func:`render`)."""
    return render(key, N, provenance, snippets)[1]


TOC = [{"name": "The puzzle"}, {"name": "An interactive demonstration"},
       {"name": "Measuring convergence"}, {"name": "Why do representations converge?"},
       {"name": "Neuroscience parallels"}, {"name": "Applications: stitching, merging, transfer, federated learning"},
       {"name": "When does convergence occur?"},
       {"name": "Open questions"}, {"name": "Conclusion"}, {"name": "Supplementary materials"}]


def toc(realnets: bool = False) -> list[dict]:
    """The front matter's table of contents (the real-network section only when the run has it)."""
    return TOC[:1] + ([{"name": "Real networks on real photographs"}] if realnets else []) + TOC[1:]


def front_matter(key: str, date: str, authors: list[Author], abstract: str = "", realnets: bool = False) -> str:
    import yaml

    fm = {"layout": "distill", "title": TITLE,
          "description": abstract or "When, how and why do different neural models learn the same representations?",
          "tags": ["representational similarity", "CKA", "RSA", "model stitching", "model merging"],
          "giscus_comments": True, "date": date, "featured": False,
          "authors": [{"name": a.name, "url": a.url, "affiliations": {"name": a.affiliations}} for a in authors],
          "bibliography": f"{key}.bib", "toc": toc(realnets)}
    return "---\n" + yaml.safe_dump(fm, sort_keys=False, allow_unicode=True, width=100) + "---\n"


def write_post(results, root: str | Path, date: str | None = None, slug: str = SLUG,
               authors: list[Author] | None = None, provenance: dict | None = None, snippets: dict | None = None,
               app_screens: dict | None = None) -> Path:
    """Write the submission tree under ``root``: _posts/, assets/bibliography, assets/img, assets/plotly.

    Interactive figures load one ``assets/plotly/<key>/plotly.min.js`` (as the blog's own posts load plotly once),
    so each figure file holds its data only.  ``snippets``: ``{name: {"code", "output"}}`` executed by the run;
    ``app_screens``: ``{"files": [png names already under assets/img/<key>/], "reason": why none}``.
    """
    from ..viz import save, write_plotlyjs

    if not re.fullmatch(r"\w+", slug):
        raise ValueError(f"slug {slug!r} must be letters, digits and underscores (a hyphen cuts the blog's key)")
    date = date or _dt.date.today().isoformat()
    key = f"{date}-{slug}"
    root = Path(root)
    provenance = dict(provenance or {})
    provenance["figures"] = list(results.figures)
    N = Numbers(results.numbers)  # noqa: N806
    abstract, text = render(key, N, provenance, snippets, app_screens)
    plotly_dir = root / "assets" / "plotly" / key
    write_plotlyjs(plotly_dir)
    for name, fig in results.figures.items():
        save(fig, html_path=plotly_dir / f"{name}.html", png_path=root / "assets" / "img" / key / f"{name}.png",
             plotlyjs="plotly.min.js")
    cited = [k.strip() for group in re.findall(r'<d-cite\s+key="([^"]+)"', text) for k in group.split(",")]
    atomic_write_text(root / "assets" / "bibliography" / f"{key}.bib", bibtex(cited))
    post = root / "_posts" / f"{key}.md"
    atomic_write_text(post, front_matter(key, date, authors or [Author()], abstract, N.has(REALNETS_KEY)) + text)
    return post
