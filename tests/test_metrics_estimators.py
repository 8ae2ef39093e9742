"""estimator_label: every table's estimator column, from the measure's own defaults and options."""

from __future__ import annotations

import pytest

from unireps.metrics import estimator_label, list_metrics, rsa_label


def test_labels_follow_the_options_given():
    assert estimator_label("linear_cka") == "linear_cka (HSIC, unbiased=False)"
    assert estimator_label("linear_cka", debiased=True) == "linear_cka (HSIC, unbiased=True)"
    assert estimator_label("linear_cka_debiased") == "linear_cka (HSIC, unbiased=True)"
    assert estimator_label("rsa") == "rsa: correlation RDM, Spearman"
    assert estimator_label("rsa", compare="kendall_tau_a", rdm="euclidean") == "rsa: euclidean RDM, Kendall tau-a"
    assert rsa_label() == estimator_label("rsa")
    assert estimator_label("mutual_knn") == "mutual_knn (k=10)" and estimator_label("mutual_knn", k=3) == \
        "mutual_knn (k=3)"
    assert "sigma^2=1.0^2 x median" in estimator_label("rbf_cka")
    assert estimator_label("cca") == "cca"


def test_every_registered_measure_has_a_label_and_bad_options_are_refused():
    for info in list_metrics():
        assert estimator_label(info.name).startswith(info.name.removesuffix("_debiased"))
    with pytest.raises(TypeError, match="accepted"):
        estimator_label("linear_cka", k=3)
    with pytest.raises(ValueError):
        estimator_label("not_a_metric")
