"""The Applications › Federated learning tab: the precomputed grid of ``unireps.federated`` (FedAvg, FedProx and
alignment-aware aggregation at two Dirichlet label skews α, clients on scikit-learn's digits), every round measured,
beside the centralised, isolated and untrained baselines.  The run is the library's
(:func:`unireps.federated.experiment.run_experiment`, on its in-process reference engine: the app's warm-up does
not start a Ray cluster inside the web server; the CLI and the report run the same grid on Flower), computed once
in the start-up warm-up and cached on disk; the page only chooses what to show (α, strategies, round, layer)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from ..viz import style  # noqa: E402
from ..viz.figures import PALETTE  # noqa: E402
from .engine import Engine, InputError  # noqa: E402
from .figures import responsive  # noqa: E402

ALPHAS = (0.1, 10.0)
DEFAULT_LAYER = "relu2"  # the last hidden layer: the layer the library's results paragraph reports
TABLES = ("rounds", "per_client", "baselines", "partitions")
BASELINES = ("central", "isolated", "untrained")
SHOWN = ["alpha", "strategy", "round", "global_acc", "client_acc", "cka_client_global", "cka_client_client",
         "mknn_client_global", "mknn_client_client", "error_barrier"]

INTRO = """### Federated learning through representational convergence
Clients each hold a *non-IID* share of scikit-learn's handwritten digits (label skew drawn from a Dirichlet
distribution with concentration α: α = 0.1 gives each client a few digits, α = 10 nearly all of them), train the
same small MLP locally, and a server aggregates their weights every round: **FedAvg** (McMahan et al., AISTATS
2017), **FedProx** (a proximal term, Li et al., MLSys 2020) or **aligned** (each client's hidden units permuted onto
the global model's by weight matching before averaging, the idea of FedMA, Wang et al., ICLR 2020).  Every round
measures the global model's held-out accuracy and how far the clients' representations have drifted apart (linear
CKA and mutual k-NN between clients and with the global model, on a fixed probe set never trained on).
Baselines: the same model trained **centrally** on all the data, clients trained **alone** (isolated), and
independently initialised **untrained** networks.  Precomputed by `unireps.federated` (one seed, on its in-process
reference loop); the CLI `unireps federated` runs the same grid on Flower's simulation engine over three seeds
(mean ± SD)."""


def settings(engine: Engine):
    """(FedConfig, alphas) of the app's grid: the library's defaults, overridden by ``AppConfig.federated``
    (FedConfig fields, and ``alphas``)."""
    from ..federated import FedConfig

    over = dict(engine.config.federated or {})
    alphas = tuple(float(a) for a in over.pop("alphas", ALPHAS))
    try:
        cfg = FedConfig(**over)
    except TypeError as e:
        raise InputError(f"AppConfig.federated: {e}; give FedConfig fields (e.g. rounds, n_clients) and alphas"
                         ) from None
    return cfg, alphas


def grid(engine: Engine) -> dict[str, pd.DataFrame]:
    """The experiment's tables (``rounds``, ``per_client``, ``baselines``, ``partitions``): computed once by
    ``run_experiment`` (every strategy at each α), then read from the app's disk cache."""
    from ..federated.experiment import run_experiment

    cfg, alphas = settings(engine)
    tag = hashlib.sha256(repr((cfg, alphas)).encode()).hexdigest()[:12]

    def run():
        return engine.memo(("federated_run", tag), lambda: run_experiment(cfg, alphas=alphas, engine="inprocess"))

    return {name: engine.disk_table(f"federated-{tag}-{name}", lambda name=name: run()[name]) for name in TABLES}


def wide(engine: Engine, layer: str) -> pd.DataFrame:
    """``results_table`` of the grid at ``layer``: one row per (α, strategy, round) and the baselines per α."""
    from ..federated.experiment import results_table

    return engine.memo(("federated_wide", layer), lambda: results_table(grid(engine), layer))


def layers(engine: Engine) -> list[str]:
    from ..federated import layer_names

    return list(layer_names(settings(engine)[0]))


def paragraph(engine: Engine, layer: str) -> str:
    from ..federated.experiment import results_paragraph

    cfg, _ = settings(engine)
    return engine.memo(("federated_paragraph", layer), lambda: results_paragraph(grid(engine), cfg, layer))


def check_choice(engine: Engine, alpha, strategies: Sequence[str] | None, rnd, layer: str):
    from ..federated import STRATEGIES

    cfg, alphas = settings(engine)
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"choose α among the precomputed values {', '.join(f'{x:g}' for x in alphas)}") from None
    if not any(np.isclose(a, x) for x in alphas):
        raise InputError(f"α = {a:g} is not precomputed; choose one of {', '.join(f'{x:g}' for x in alphas)}")
    chosen = [s for s in (strategies or []) if s in STRATEGIES]
    if not chosen or len(chosen) != len(strategies or []):
        raise InputError(f"choose one or more strategies among {', '.join(STRATEGIES)}")
    r = int(rnd)
    if not 0 <= r <= cfg.rounds:
        raise InputError(f"choose a round between 0 and {cfg.rounds}")
    if layer not in layers(engine):
        raise InputError(f"choose a layer among {', '.join(layers(engine))}")
    return next(x for x in alphas if np.isclose(a, x)), chosen, r


def _line_figure(t: pd.DataFrame, strategies: list[str], col: str, title: str, ytitle: str, rnd: int,
                 refs: list[tuple[str, float, str]], secondary: str | None = None) -> go.Figure:
    fig = go.Figure()
    for i, s in enumerate(strategies):
        g = t[t.strategy == s].sort_values("round")
        fig.add_trace(go.Scatter(x=g["round"], y=g[col], mode="lines+markers",
                                 name=f"{s} (client↔client)" if secondary else s,
                                 line={"color": PALETTE[i % len(PALETTE)], "width": 3}))
        if secondary:
            fig.add_trace(go.Scatter(x=g["round"], y=g[secondary], mode="lines", name=f"{s} (client↔global)",
                                     line={"color": PALETTE[i % len(PALETTE)], "dash": "dot"}))
    for label, value, dash in refs:
        if np.isfinite(value):
            fig.add_hline(y=value, line_dash=dash, line_color="#555555",
                          annotation_text=f"{label} {value:.2f}", annotation_position="bottom right")
    fig.add_vline(x=rnd, line_dash="dash", line_color="#999999")
    fig.update_xaxes(title="round", dtick=1)
    fig.update_yaxes(title=ytitle)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return responsive(style(fig, title, height=420), 340)


def _base(t: pd.DataFrame, name: str, col: str) -> float:
    rows = t[(t.strategy == name) & t[col].notna()]
    return float(rows.sort_values("round")[col].iloc[-1]) if len(rows) else float("nan")


def view(engine: Engine, alpha, strategies: Sequence[str], rnd, layer: str):
    """(text, accuracy figure, drift figure, table of the chosen round with its baselines)."""
    a, chosen, r = check_choice(engine, alpha, strategies, rnd, layer)
    t = wide(engine, layer)
    t = t[np.isclose(t.alpha.astype(float), a)]
    runs = t[t.strategy.isin(chosen)]
    base = t[t.strategy.isin(BASELINES)]
    central, iso_acc = _base(t, "central", "global_acc"), _base(t, "isolated", "client_acc")
    acc = _line_figure(runs, chosen, "global_acc", f"Global model's test accuracy, α = {a:g}", "test accuracy", r,
                       [("central", central, "solid"), ("isolated clients (mean)", iso_acc, "dot")])
    drift = _line_figure(runs, chosen, "cka_client_client", f"Client drift at {layer} (linear CKA)",
                         "linear CKA, mean over pairs", r,
                         [("isolated", _base(t, "isolated", "cka_client_client"), "dot"),
                          ("untrained", _base(t, "untrained", "cka_client_client"), "dash")],
                         secondary="cka_client_global")
    at = runs[runs["round"] == r]
    table = pd.concat([at, base], ignore_index=True)[[c for c in SHOWN if c in t]].round(4)
    lines = [f"**α = {a:g}, round {r}:** " + "; ".join(
        f"{row.strategy} global accuracy {row.global_acc:.3f}, client↔client CKA {row.cka_client_client:.3f}"
        for row in at.itertuples()) + f" — central model {central:.3f}, isolated clients {iso_acc:.3f} (mean).",
             "", paragraph(engine, layer)]
    return "\n".join(lines), acc, drift, table


def federated_section(page) -> None:
    """The tab's components and events (every event named: ``/applications_federated``,
    ``/applications_federated_on_view``)."""
    import gradio as gr

    from ..federated import STRATEGIES

    engine = page.engine
    cfg, alphas = settings(engine)
    names = layers(engine)
    with gr.Tab("Federated learning", id="federated") as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            alpha = gr.Radio([f"{a:g}" for a in alphas], value=f"{alphas[0]:g}",
                             label="Heterogeneity: Dirichlet α (small = each client sees few digits)")
            strategies = gr.CheckboxGroup(list(STRATEGIES), value=list(STRATEGIES), label="Aggregation strategies")
        with gr.Row():
            rnd = gr.Slider(0, cfg.rounds, value=cfg.rounds, step=1, label="Round")
            layer = gr.Dropdown(names, value=DEFAULT_LAYER if DEFAULT_LAYER in names else names[-1],
                                label="Layer of the representation analysis")
        btn = gr.Button("Show", variant="primary", elem_id="fed-show")
        md = gr.Markdown(elem_id="fed-result")
        acc = gr.Plot(label="Global accuracy per round", elem_id="fed-acc")
        drift = gr.Plot(label="Client drift per round", elem_id="fed-drift")
        table = gr.Dataframe(label="The chosen round and the baselines (means; accuracy on the held-out test split)",
                             interactive=False, headers=SHOWN)

    @page.guard
    def do_view(alpha, strategies, rnd, layer):
        return view(engine, alpha, strategies, rnd, layer)

    inputs, outputs = [alpha, strategies, rnd, layer], [md, acc, drift, table]
    btn.click(do_view, inputs=inputs, outputs=outputs, api_name="applications_federated", **page.compute_kw)
    tab.select(do_view, inputs=inputs, outputs=outputs, api_name="applications_federated_on_view",
               **page.compute_kw)
