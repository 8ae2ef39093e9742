"""The demo's printed summary: every number labelled with its estimator, n, selection and baseline."""

from __future__ import annotations

import re

from unireps.cli.cmd_report import REAL_NETS, realnets_lines, stand_in_lines

STAND_IN = {"n_stimuli": 500, "cross_family_linear_cka_trained_mean": 0.61,
            "cross_family_linear_cka_untrained_mean": 0.4,
            "cross_family_linear_cka_shuffled_mean": 0.02, "seed_linear_cka_mean": 0.9,
            "trained_vs_untrained_linear_cka_mean": 0.3, "identification_linear_cka": 0.8,
            "identification_linear_cka_ci_low": 0.6, "identification_linear_cka_ci_high": 1.0,
            "identification_cca": 0.0, "n_layers": 5, "brain_trained_cv_mean": 0.074, "brain_trained_cv_sd": 0.047,
            "brain_untrained_cv_mean": 0.05, "brain_trained_n_splits": 100, "ceiling_lower": 0.3723,
            "ceiling_upper": 0.6657, "brain_trained_in_sample_value": 0.108, "brain_trained_null_p95": 0.06,
            "brain_trained_p_value": 0.01, "brain_best_human": 0.108}


def _numbers(line: str) -> list[str]:
    return re.findall(r"(?<![\w.])-?\d+\.\d+", line)


def test_stand_in_summary_labels_every_number():
    lines = stand_in_lines(STAND_IN)
    text = "\n".join(lines)
    assert "held-out shapes" not in text and "not a held-out split" in text and "n = 500" in text
    assert "stand in for CLIP" in text and "are not those models" in text
    for line in lines:
        if _numbers(line):
            assert "linear_cka (HSIC, unbiased=False)" in line or "rsa: correlation RDM, Spearman" in line or \
                "cca" in line or "ceiling" in line or "in-sample" in line, line
    brain = next(ln for ln in lines if "cross-validated" in ln)
    assert "0.074 ± 0.047" in brain and "untrained twin's layers 0.050" in brain and "100 splits" in brain
    insample = next(ln for ln in lines if "in-sample maximum" in ln)
    assert "biased upwards" in insample and "0.108" in insample and "95th percentile 0.060" in insample
    assert "chance 0.200" in text and "[95% CI 0.600, 1.000]" in text
    assert "baselines: untrained twins 0.400, shuffled pairing 0.020" in text


def test_stand_in_summary_leaves_out_lines_whose_numbers_are_missing():
    lines = stand_in_lines({"n_stimuli": 50, "seed_linear_cka_mean": 0.9})
    assert len(lines) == 2 and "n = 50" in lines[1]  # the header only: the seed line lacks its baseline


def test_realnets_summary_gives_twins_ceiling_and_how_the_layer_was_chosen():
    n = {"realnets_n_splits": 40, "ceiling_lower_heldout": 0.374, "ceiling_upper_heldout": 0.667,
         "scale_cka_depth_matched_mean|trained-trained": 0.937, "scale_cka_depth_matched_mean|trained-untrained": 0.46}
    for i, m in enumerate(REAL_NETS):
        for target in ("human_IT (4 subjects)", "monkey_IT"):
            n[f"brain_heldout|{m}|{target}"] = 0.27 + i / 100
            n[f"brain_heldout|{m}-untrained|{target}"] = 0.04 + i / 100
        key = f"{m}|human_IT (4 subjects)"
        n[f"brain_insample|{key}"], n[f"brain_insample_ci_low|{key}"], n[f"brain_insample_ci_high|{key}"] = \
            0.28, 0.21, 0.34
        for metric in ("mutual_knn", "linear_cka"):
            n[f"lm_{metric}_pooled|{m}"], n[f"lm_{metric}_pooled_null|{m}"] = 0.36, 0.11
            n[f"lm_{metric}_pooled|{m}-untrained"] = 0.16
    text = "\n".join(realnets_lines(n))
    assert "pretrained on ImageNet (real weights)" in text and "n = 92" in text
    assert "40 category-stratified splits" in text and "scored on the other half (cross-validated" in text
    assert "lite0 0.270 (untrained twin 0.040)" in text and "[0.374, 0.667]" in text
    assert "rsa: correlation RDM, Spearman" in text and "linear_cka (HSIC, unbiased=False)" in text
    assert "mutual_knn (k=10)" in text and "shuffled-pairing null 0.110" in text
    assert "untrained-untrained" not in text  # not in the numbers: not printed
    assert "lite2 0.280 [95% CI over stimuli 0.210, 0.340]" in text and "biased upwards" in text


def test_bridge_line_with_its_baselines():
    from unireps.cli.cmd_report import bridge_lines

    n = {"bridge_chance_r1": 1 / 31, "bridge_n_test": 31.0, "bridge_n_splits": 5.0}
    assert bridge_lines(n) == []  # no bridge numbers: no line
    for i, m in enumerate(REAL_NETS):
        n[f"bridge_i2t_r1|{m}"], n[f"bridge_i2t_r1_null|{m}"] = 0.36 + i / 100, 0.03
        n[f"bridge_i2t_r1|{m}-untrained"] = 0.09
    (line,) = bridge_lines(n)
    assert "31 test photos" in line and "5 stratified splits" in line and "chance 0.032" in line
    assert "lite1 0.370 (shuffled-pairing null 0.030, untrained twin 0.090)" in line
