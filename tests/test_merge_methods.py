"""Merge methods on hand-made state_dicts with known answers: soups, task arithmetic, TIES, Fisher, SLERP."""

import math

import pytest
import torch
from torch import nn

from unireps.applications import multitask_merge_table, summarise_merge_table
from unireps.merge import (
    add_task_vectors,
    diagonal_fisher,
    disjoint_merge,
    elect_sign,
    fisher_merge,
    greedy_soup,
    negate,
    slerp,
    slerp_tensor,
    task_arithmetic,
    task_vector,
    ties_merge,
    trim,
    uniform_soup,
)


def t(*v):
    return torch.tensor(v, dtype=torch.float64)


def test_slerp_endpoints_midpoint_and_collinear_fallback():
    a, b = {"w": t(1.0, 0.0), "n": torch.tensor(5)}, {"w": t(0.0, 2.0), "n": torch.tensor(7)}
    assert torch.allclose(slerp(a, b, 0.0)["w"], a["w"]) and torch.allclose(slerp(a, b, 1.0)["w"], b["w"])
    mid = slerp(a, b, 0.5)["w"]  # 90 degrees apart: sin(45°)/sin(90°) on each raw tensor
    assert torch.allclose(mid, t(math.sqrt(0.5), 2 * math.sqrt(0.5)))
    assert int(slerp(a, b, 0.5)["n"]) == 5
    v = t(1.0, 2.0, 3.0)
    assert torch.allclose(slerp_tensor(v, 3 * v, 0.25), 0.75 * v + 0.75 * v)  # collinear -> linear
    assert torch.allclose(slerp_tensor(v, -v, 0.5), 0 * v)  # anti-collinear -> linear too
    assert torch.allclose(slerp_tensor(0 * v, v, 0.5), 0.5 * v)  # zero tensor -> linear
    assert torch.allclose(slerp(a, b, {"w": 1.0})["w"], b["w"])
    with pytest.raises(ValueError, match="missing 'w'"):
        slerp(a, {"n": torch.tensor(1)})


def test_task_arithmetic_and_negation_known_answers():
    pre = {"w": t(0.0, 0.0, 0.0), "b": t(1.0)}
    ft1, ft2 = {"w": t(1.0, 2.0, 0.0), "b": t(1.0)}, {"w": t(0.0, -1.0, 3.0), "b": t(3.0)}
    assert torch.allclose(task_vector(ft1, pre)["w"], t(1.0, 2.0, 0.0))
    merged = task_arithmetic(pre, [ft1, ft2], scaling=0.5)
    assert torch.allclose(merged["w"], t(0.5, 0.5, 1.5)) and torch.allclose(merged["b"], t(2.0))
    forget = add_task_vectors(pre, [negate(task_vector(ft1, pre))], 1.0)
    assert torch.allclose(forget["w"], t(-1.0, -2.0, 0.0))
    per_vector = task_arithmetic(pre, [ft1, ft2], scaling=[1.0, 0.0])
    assert torch.allclose(per_vector["w"], ft1["w"])
    with pytest.raises(ValueError, match="one λ"):
        task_arithmetic(pre, [ft1, ft2], scaling=[1.0])
    with pytest.raises(ValueError, match="task_vector"):
        add_task_vectors(pre, [{"w": t(1.0, 1.0, 1.0)}])


def test_ties_trim_elect_disjoint_known_answer():
    pre = {"w": t(0.0, 0.0, 0.0, 0.0)}
    taus = [t(3.0, -1.0, 0.5, -2.0), t(-2.0, 4.0, 0.1, 1.0), t(1.0, -3.0, 0.2, -5.0)]
    trimmed = [trim({"w": v}, density=0.5) for v in taus]
    assert torch.equal(trimmed[0]["w"], t(3.0, 0.0, 0.0, -2.0))
    assert torch.equal(trimmed[1]["w"], t(-2.0, 4.0, 0.0, 0.0))
    assert torch.equal(trimmed[2]["w"], t(0.0, -3.0, 0.0, -5.0))
    sign = elect_sign(trimmed)
    assert torch.equal(sign["w"], t(1.0, 1.0, 0.0, -1.0))
    assert torch.allclose(disjoint_merge(trimmed, sign)["w"], t(3.0, 4.0, 0.0, -3.5))
    merged = ties_merge(pre, [{"w": v} for v in taus], density=0.5, scaling=2.0)
    assert torch.allclose(merged["w"], t(6.0, 8.0, 0.0, -7.0))
    two = {"a": t(5.0, 1.0), "b": t(0.5, 0.2)}  # global keeps the 2 largest overall, per tensor 1 each
    assert torch.equal(trim(two, 0.5, "global")["b"], t(0.0, 0.0))
    assert torch.equal(trim(two, 0.5, "tensor")["b"], t(0.5, 0.0))
    with pytest.raises(ValueError, match="density"):
        trim(two, 0.0)
    with pytest.raises(ValueError, match="scope"):
        trim(two, 0.5, "layer")


def test_soups():
    sds = [{"w": t(0.0, 0.0)}, {"w": t(2.0, 0.0)}, {"w": t(0.0, 4.0)}, {"w": t(10.0, 10.0)}]
    assert torch.allclose(uniform_soup(sds)["w"], t(3.0, 3.5))
    target = t(1.0, 1.0)

    def score(sd):
        return -float(torch.linalg.vector_norm(sd["w"] - target))

    res = greedy_soup(sds, score)
    # best alone is [2,0] or [0,0] (both at distance ~1.41): sorted stable -> sds[0]; +sds[1] -> [1,0] (1.0) added;
    # +sds[2] -> [2/3, 4/3] (0.47) added; +sds[3] -> far, rejected
    assert res.selected == [0, 1, 2] and torch.allclose(res.state_dict["w"], t(2 / 3, 4 / 3))
    assert len(res.history) == 4 and res.history["added"].tolist() == [True, True, True, False]
    with pytest.raises(ValueError, match="missing 'w'"):
        uniform_soup([{"w": t(1.0)}, {"v": t(1.0)}])
    with pytest.raises(TypeError, match="list"):
        uniform_soup({"w": t(1.0)})


def test_fisher_merge_known_answer_and_fallback():
    sds = [{"w": t(1.0, 1.0), "buf": t(0.0)}, {"w": t(3.0, 5.0), "buf": t(2.0)}]
    fishers = [{"w": t(1.0, 0.0)}, {"w": t(0.0, 1.0)}]
    merged = fisher_merge(sds, fishers)
    assert torch.allclose(merged["w"], t(1.0, 5.0))  # each entry from the model that is informed about it
    assert torch.allclose(merged["buf"], t(1.0))  # no Fisher: plain average
    equal = fisher_merge(sds, [{"w": t(2.0, 2.0)}, {"w": t(2.0, 2.0)}])
    assert torch.allclose(equal["w"], t(2.0, 3.0))
    with pytest.raises(ValueError, match="negative"):
        fisher_merge(sds, [{"w": t(-1.0, 0.0)}, {"w": t(1.0, 1.0)}])
    with pytest.raises(ValueError, match="one Fisher per"):
        fisher_merge(sds, fishers[:1])


def test_diagonal_fisher_matches_closed_form_for_softmax_regression():
    torch.manual_seed(0)
    model = nn.Linear(3, 4, bias=False).double()
    x = torch.randn(10, 3, dtype=torch.float64)
    fisher = diagonal_fisher(model, x, mode="expected", batch_size=4)["weight"]
    p = torch.softmax(model(x), dim=1).detach()
    expected = torch.zeros(4, 3, dtype=torch.float64)
    for n in range(len(x)):
        for y in range(4):
            g = (torch.eye(4, dtype=torch.float64)[y] - p[n])[:, None] * x[n][None, :]  # d log p(y|x) / dW
            expected += p[n, y] * g ** 2
    assert torch.allclose(fisher, expected / len(x), atol=1e-10)
    labels = torch.randint(0, 4, (10,))
    emp = diagonal_fisher(model, x, labels, mode="empirical")["weight"]
    assert emp.shape == (4, 3) and bool((emp >= 0).all())
    with pytest.raises(ValueError, match="needs the labels"):
        diagonal_fisher(model, x, mode="empirical")
    with pytest.raises(ValueError, match="accepted values"):
        diagonal_fisher(model, x, mode="hessian")


def test_multitask_merge_table_smoke():
    torch.set_num_threads(1)
    df = multitask_merge_table(("parity", "gt4"), width=16, pretrain_epochs=3, probe_epochs=2, finetune_epochs=2,
                               scalings=(0.5, 1.0))
    wide = summarise_merge_table(df)
    assert list(wide.index)[:2] == ["individual", "pretrained"] and "mean" in wide
    assert (wide.loc["individual"] == 1.0).all()
    assert df["normalized_accuracy"].between(0, 2).all()
    with pytest.raises(ValueError, match="tasks"):
        multitask_merge_table(("parity", "nope"))
