"""Permutation alignment (Git Re-Basin): specs, weight / activation matching, known permutations recovered."""

import numpy as np
import pytest
import torch
from torch import nn

from unireps.merge import (
    PermutationSpec,
    activation_matching,
    apply_permutation,
    check_spec,
    invert_permutation,
    mlp_spec,
    random_permutation,
    spec_from_module,
    transformer_encoder_spec,
    weight_matching,
)
from unireps.zoo.digits import digits_cnn, digits_mlp


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _same_weights(sd1, sd2, atol=0.0):
    assert set(sd1) == set(sd2)
    for k in sd1:
        assert torch.allclose(sd1[k], sd2[k], atol=atol, rtol=0), k


@pytest.mark.parametrize("make", [lambda: digits_mlp(width=24, depth=3, seed=0), lambda: digits_cnn(width=6, seed=0)])
def test_weight_matching_recovers_a_known_permutation_exactly(make):
    a = make()
    x = torch.randn(20, 64)
    spec = spec_from_module(a, x)
    perms_true = random_permutation(spec, a.state_dict(), seed=3)
    b = make()
    b.load_state_dict(apply_permutation(spec, perms_true, a.state_dict()))
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-5)  # permuting hidden units keeps the function
    assert not torch.equal(a.state_dict()["fc1.weight" if "fc1.weight" in a.state_dict() else "conv1.weight"],
                           b.state_dict()["fc1.weight" if "fc1.weight" in b.state_dict() else "conv1.weight"])
    perms = weight_matching(spec, a.state_dict(), b.state_dict())
    for p, pi in perms_true.items():
        assert np.array_equal(perms[p], invert_permutation(pi)), p
    aligned = apply_permutation(spec, perms, b.state_dict())
    _same_weights(aligned, a.state_dict())
    b.load_state_dict(aligned)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_activation_matching_recovers_a_known_permutation():
    a = digits_mlp(width=16, depth=2, seed=0)
    x = torch.randn(300, 64)
    spec = spec_from_module(a, x[:5])
    assert spec.activations == {"P_fc1": "relu1", "P_fc2": "relu2"}
    perms_true = random_permutation(spec, a.state_dict(), seed=5)
    b = digits_mlp(width=16, depth=2, seed=0)
    b.load_state_dict(apply_permutation(spec, perms_true, a.state_dict()))
    perms = activation_matching(spec, a, b, x)
    # units dead on every input are indistinguishable by activations; all live units must be recovered
    with torch.no_grad():
        live = (a.relu1(a.fc1(x)).std(0) > 0).numpy()
    assert np.array_equal(perms["P_fc1"][live], invert_permutation(perms_true["P_fc1"])[live])


def test_plain_state_dict_spec_and_weight_matching_without_a_model():
    rng = np.random.default_rng(0)
    sd = {"fc1.weight": torch.tensor(rng.normal(size=(8, 4))), "fc1.bias": torch.tensor(rng.normal(size=8)),
          "fc2.weight": torch.tensor(rng.normal(size=(3, 8))), "fc2.bias": torch.tensor(rng.normal(size=3))}
    spec = mlp_spec(["fc1", "fc2"])
    assert spec.perm_to_axes == {"P_fc1": [("fc1.weight", 0), ("fc1.bias", 0), ("fc2.weight", 1)]}
    perm = {"P_fc1": np.array([3, 1, 0, 2, 7, 6, 5, 4])}
    permuted = apply_permutation(spec, perm, sd)
    assert torch.equal(permuted["fc1.weight"][0], sd["fc1.weight"][3])
    assert torch.equal(permuted["fc2.weight"][:, 0], sd["fc2.weight"][:, 3])
    found = weight_matching(spec, sd, permuted)
    _same_weights(apply_permutation(spec, found, permuted), sd)


class TinyTransformer(nn.Module):
    def __init__(self, d=16, ff=24, layers=2, seq=5):
        super().__init__()
        self.emb = nn.Linear(4, d)
        self.pos = nn.Parameter(torch.randn(seq, d) * 0.1)
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(d, 2, ff, dropout=0.0, batch_first=True)
                                     for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        h = self.emb(x) + self.pos
        for layer in self.layers:
            h = layer(h)
        return self.head(self.norm(h).mean(1))


def test_transformer_block_spec_preserves_function_and_is_recovered():
    torch.manual_seed(0)
    a = TinyTransformer()
    spec = transformer_encoder_spec(a, ["layers.0", "layers.1"], embed_linear=["emb"], embed_params=["pos"],
                                    head=["head"], norms=["norm"])
    x = torch.randn(7, 5, 4)
    check_spec(a, spec, x)
    perms_true = random_permutation(spec, a.state_dict(), seed=2)
    b = TinyTransformer()
    b.load_state_dict(apply_permutation(spec, perms_true, a.state_dict()))
    found = weight_matching(spec, a.state_dict(), b.state_dict())
    _same_weights(apply_permutation(spec, found, b.state_dict()), a.state_dict())


def test_spec_errors_name_the_problem_and_the_fix():
    with pytest.raises(ValueError, match="Flatten"):
        spec_from_module(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)))
    with pytest.raises(ValueError, match="by hand"):
        spec_from_module(nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 4), nn.Linear(4, 2)))

    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            return self.fc3(torch.relu(self.fc2(h)) + x)  # skip connection the chain spec cannot know

    with pytest.raises(ValueError, match="does not preserve"):
        spec_from_module(Skip(), torch.randn(5, 4))
    spec = mlp_spec(["fc1", "fc2", "out"])
    sd = digits_mlp(width=8, depth=1, seed=0).state_dict()  # has no fc2
    with pytest.raises(ValueError, match="'fc2.weight'"):
        spec.sizes(sd)
    big = digits_mlp(width=8, depth=2, seed=0).state_dict()
    wide = digits_mlp(width=9, depth=2, seed=0).state_dict()
    with pytest.raises(ValueError, match="equal width"):
        weight_matching(spec, big, wide)
    with pytest.raises(ValueError, match="not a permutation"):
        apply_permutation(spec, {"P_fc1": np.zeros(8, int), "P_fc2": np.arange(8)}, big)
    with pytest.raises(ValueError, match="permutation name"):
        PermutationSpec({"w": (0, None)})
    with pytest.raises(ValueError, match="activation point"):
        activation_matching(spec, digits_mlp(8), digits_mlp(8), torch.randn(4, 64))
