"""Model stitching: cutting models, stitching layers, penalties with the random-bottom control, dual encoders."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from unireps.applications import stitching_penalties, summarise_stitching
from unireps.stitch import (
    DualEncoderStitch,
    StitchableModel,
    Stitcher,
    StitchLayer,
    dual_encoder_retrieval,
    random_init_copy,
    stitching_penalty_table,
    synthetic_dual_encoders,
)
from unireps.zoo.digits import digits_cnn, digits_split, trained_digits_model


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    return digits_split()


@pytest.fixture(scope="module")
def mlp():
    torch.set_num_threads(1)
    return trained_digits_model("mlp", 32, 0, epochs=10)


def test_stitchable_model_cuts_and_recomposes(data, mlp):
    sm = StitchableModel.wrap(mlp)
    assert sm.cuts == ["input", "fc1", "relu1", "fc2", "relu2", "out"]
    x = data.x_test[:20]
    sm.check(mlp, x)
    for cut in sm.cuts:
        with torch.no_grad():
            assert torch.allclose(sm.top(cut)(sm.bottom(cut)(x)), mlp(x), atol=1e-6)
    assert sm.features(x, "relu1").shape == (20, 32)
    with pytest.raises(ValueError, match="valid cuts: 'input', 'fc1'"):
        sm.bottom("conv9")
    blocks = StitchableModel([nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10)], names=["a", "b", "c"])
    with pytest.raises(ValueError, match="do not reproduce"):
        blocks.check(mlp, x)
    with pytest.raises(TypeError, match="StitchableModel"):
        StitchableModel.wrap(nn.Linear(3, 3))
    with pytest.raises(ValueError, match="one name per block"):
        StitchableModel([nn.ReLU()], names=["a", "b"])


@pytest.mark.parametrize("method", ["lstsq", "task"])
def test_self_stitch_has_no_penalty_and_random_bottom_is_worse(data, mlp, method):
    acc = float((mlp(data.x_test).argmax(1) == data.y_test).double().mean())
    st = Stitcher(mlp, "relu1", mlp, "relu1", method=method, epochs=3).fit(data.x_train, data.y_train)
    penalty = acc - st.score(data.x_test, data.y_test)
    # least squares reproduces the layer; task training may even improve on a briefly trained model, never hurt much
    assert abs(penalty) <= 0.005 if method == "lstsq" else -0.03 <= penalty <= 0.01
    if method == "lstsq":  # the least-squares map of a layer onto itself is the identity
        w = st.layer.map.weight.detach()
        assert torch.allclose(w, torch.eye(32), atol=1e-3) and st.match_score(data.x_test) > 0.999
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    Stitcher(mlp, "relu1", mlp, "relu2", method=method, epochs=1).fit(data.x_train[:200], data.y_train[:200])
    for k, v in mlp.state_dict().items():  # A and B frozen: weights, grads and requires_grad untouched
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad and p.grad is None for p in mlp.parameters())
    ctrl = Stitcher(random_init_copy(mlp, seed=1), "relu2", mlp, "relu2", method=method, epochs=3)
    ctrl.fit(data.x_train, data.y_train)
    assert acc - ctrl.score(data.x_test, data.y_test) > 0.05


def test_penalty_table_layout(data, mlp):
    other = trained_digits_model("mlp", 16, 1, epochs=5)
    df = stitching_penalty_table(mlp, other, data.x_train[:300], data.y_train[:300], data.x_test, data.y_test,
                                 cuts_a=["relu1", "relu2"], cuts_b=["relu2"], methods=["ridge"])
    assert len(df) == 4 and set(df["bottom"]) == {"A", "random"}
    assert np.allclose(df["penalty"], df["acc_b"] - df["acc_stitched"])
    wide = summarise_stitching(df)
    assert {"penalty", "penalty_random_bottom"} <= set(wide)
    with pytest.raises(ValueError, match="diagonal"):
        stitching_penalty_table(mlp, other, data.x_train, data.y_train, data.x_test, data.y_test, cuts_a=["relu1"],
                                cuts_b=["relu1", "relu2"], pairs="diagonal")


def test_conv1x1_and_token_stitching():
    torch.manual_seed(0)
    a, b = digits_cnn(width=4, seed=0), digits_cnn(width=3, seed=1)
    x = torch.randn(40, 64)
    st = Stitcher(a, "relu2", b, "relu2", method="ridge").fit(x)
    assert st.layer.kind == "conv1x1" and st.layer.map.weight.shape == (6, 8, 1, 1)
    assert st.predict_logits(x).shape == (40, 10)
    with pytest.raises(ValueError, match="equal spatial size"):
        Stitcher(a, "relu1", b, "relu2", method="lstsq").fit(x)
    with pytest.raises(ValueError, match="same kind"):
        Stitcher(a, "relu3", digits_cnn(width=3), "flatten", method="lstsq").fit(x)
    tokens_a = StitchableModel([nn.Linear(5, 8), nn.GELU(), nn.Flatten(), nn.Linear(8 * 4, 3)])
    tokens_b = StitchableModel([nn.Linear(5, 6), nn.GELU(), nn.Flatten(), nn.Linear(6 * 4, 3)])
    xt = torch.randn(30, 4, 5)
    st = Stitcher(tokens_a, "1", tokens_b, "1", method="task", epochs=2).fit(xt, torch.randint(0, 3, (30,)))
    assert st.layer.kind == "token" and st.predict(xt).shape == (30,)
    assert StitchLayer.infer_kind(torch.zeros(2, 3)) == "affine"


def test_stitcher_errors(data, mlp):
    st = Stitcher(mlp, "relu1", mlp, "relu2", method="task")
    with pytest.raises(NotFittedError, match="call .fit"):
        st.score(data.x_test, data.y_test)
    assert isinstance(NotFittedError(), ValueError)
    with pytest.raises(ValueError, match="needs labels"):
        st.fit(data.x_train)
    with pytest.raises(ValueError, match="accepted values"):
        Stitcher(mlp, "relu1", mlp, "relu1", method="magic")
    with pytest.raises(ValueError, match="accepted values"):
        Stitcher(mlp, "relu1", mlp, "relu1", kind="conv3x3")
    with pytest.raises(ValueError, match="rows"):
        Stitcher(mlp, "relu1", mlp, "relu1", method="lstsq").fit(data.x_train, data.y_train[:5])

    class WithParam(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))

    with pytest.raises(ValueError, match="random_bottom"):
        random_init_copy(nn.Sequential(WithParam()))
    copy = random_init_copy(mlp, seed=0)
    assert not torch.equal(copy.fc1.weight, mlp.fc1.weight)


def test_dual_encoder_stitch_fit_on_one_split_score_on_another():
    emb = synthetic_dual_encoders(n=400, seed=0)
    train, test = np.arange(300), np.arange(300, 400)
    st = DualEncoderStitch("ridge").fit(emb["image_1"][train], emb["text_2"][train])
    rec = st.score(emb["image_1"][test], emb["text_2"][test])
    assert rec["image_to_text R@5"] > 0.8
    df = dual_encoder_retrieval(emb["image_1"], emb["text_2"], train, test, text_1=emb["text_1"],
                                image_2=emb["image_2"])
    no_map = df[df["method"] == "no_map"].iloc[0]
    stitched = df[df["method"] == "procrustes"].iloc[0]
    assert no_map["image_to_text R@1"] < 0.1 < 0.5 < stitched["image_to_text R@1"]
    assert len(df) == 6
    with pytest.raises(NotFittedError):
        DualEncoderStitch().transform(emb["image_1"])
    with pytest.raises(ValueError, match="overlap"):
        dual_encoder_retrieval(emb["image_1"], emb["text_2"], train, train)
    with pytest.raises(ValueError, match="paired"):
        DualEncoderStitch().fit(emb["image_1"][:10], emb["text_2"][:11])


def test_stitching_penalties_demo_smoke():
    df = stitching_penalties(widths=(8,), epochs=2, stitch_epochs=1, methods=("lstsq",), pairs="diagonal")
    assert len(df) == 4 and set(df["cut_a"]) == {"relu1", "relu2"}
