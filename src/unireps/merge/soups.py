"""Model soups (Wortsman et al., ICML 2022): averages of fine-tuned weights that share a starting point.

* uniform soup: θ = (1/k) Σ θ_i (optionally weighted);
* greedy soup: sort the ingredients by their held-out score (best first), start from the best, and add each next
  ingredient only if the uniform average of the soup plus it scores at least as well on held-out data
  (the paper's recipe, ``>=``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from ._sd import check_compatible, check_weights, weighted_sum


def uniform_soup(state_dicts: Sequence, weights: Sequence[float] | None = None) -> dict:
    """Average of the state_dicts (weights default to 1/k; they are used as given, not renormalised)."""
    sds = check_compatible(state_dicts)
    return weighted_sum(sds, check_weights(weights, len(sds)))


def _score(score_fn: Callable, sd: dict, what: str) -> float:
    s = float(score_fn(sd))
    if not math.isfinite(s):
        raise ValueError(f"score_fn returned {s} for {what}; it must return a finite held-out score (higher is "
                         "better), e.g. validation accuracy — a NaN would silently never be selected")
    return s


@dataclass
class GreedySoupResult:
    state_dict: dict
    selected: list[int]
    score: float
    history: pd.DataFrame = field(repr=False)


def greedy_soup(state_dicts: Sequence, score_fn: Callable[[dict], float],
                scores: Sequence[float] | None = None) -> GreedySoupResult:
    """Greedy soup.  ``score_fn(state_dict) -> float`` is a held-out score, higher is better (e.g. val accuracy).

    ``scores`` may give the ingredients' own scores (else computed with ``score_fn``).  Returns the soup,
    the selected ingredient indices (in the order added), its score and a history table
    (step, candidate, individual score, soup score with it, added).
    """
    sds = check_compatible(state_dicts)
    if not callable(score_fn):
        raise TypeError("score_fn must be callable: score_fn(state_dict) -> float, higher is better")
    own = [float(s) for s in scores] if scores is not None else [_score(score_fn, sd, f"state_dicts[{i}]")
                                                                  for i, sd in enumerate(sds)]
    if len(own) != len(sds):
        raise ValueError(f"scores has {len(own)} entries for {len(sds)} state_dicts; give one score each")
    if not all(math.isfinite(v) for v in own):
        raise ValueError(f"scores must be finite numbers (higher is better), got {own}")
    order = sorted(range(len(sds)), key=lambda i: -own[i])
    selected = [order[0]]
    best = own[order[0]]
    rows = [{"step": 0, "candidate": order[0], "individual_score": own[order[0]], "soup_score": best, "added": True}]
    for step, i in enumerate(order[1:], start=1):
        trial = uniform_soup([sds[j] for j in selected + [i]])
        s = _score(score_fn, trial, f"the soup with state_dicts[{i}]")
        added = s >= best
        if added:
            selected.append(i)
            best = s
        rows.append({"step": step, "candidate": i, "individual_score": own[i], "soup_score": s, "added": added})
    soup = uniform_soup([sds[j] for j in selected])
    return GreedySoupResult(soup, selected, best, pd.DataFrame(rows))
