"""The post's three code snippets (CKA between two models; stitching two models and its penalty; transfer of a
probe through a fitted map), executed during the report run so that the post shows their real output.

Each snippet is plain user code against the public API; :func:`run_snippets` executes it in a fresh namespace,
captures what it prints and returns ``{name: {"code", "output", "seconds"}}`` (written to ``snippets.json``).
A snippet that raises is an error of the run, never a silently missing output.
"""

from __future__ import annotations

import contextlib
import io
import time

CKA = '''\
from unireps.analysis.reps import embedding
from unireps.metrics import linear_cka, permutation_test
from unireps.report.standard import eval_set

images = eval_set({n})                        # held-out images of the shapes world
X = embedding("zoo:clip-s0", images)           # CLIP stand-in, image embeddings
Y = embedding("zoo:siglip-s0", images)         # SigLIP stand-in
Z = embedding("zoo:clip-s0-untrained", images)  # CLIP's untrained twin (baseline)
print("X", X.shape, " Y", Y.shape)
print(f"linear CKA(CLIP, SigLIP)          = {{linear_cka(X, Y):.3f}}")
print(f"linear CKA(untrained CLIP, SigLIP) = {{linear_cka(Z, Y):.3f}}")
test = permutation_test(X, Y, n_permutations=200, seed=0)
print(f"permutation p-value (200 shuffles) = {{test.p_value:.4f}}")
'''

STITCH = '''\
from unireps.stitch import Stitcher
from unireps.zoo.digits import digits_split, evaluate, trained_digits_model

data = digits_split(0)                              # 8x8 digits, fixed train/test split
A = trained_digits_model("mlp", width=64, seed=0)   # two MLPs 64 -> 64 -> 64 -> 10
B = trained_digits_model("mlp", width=64, seed=1)   # trained from different seeds
st = Stitcher(A, "relu1", B, "relu1", method="lstsq").fit(data.x_train, data.y_train)
acc_b = evaluate(B, data.x_test, data.y_test)["accuracy"]
acc = st.score(data.x_test, data.y_test)
print(f"B alone:                          {{acc_b:.3f}}")
print(f"A's bottom -> stitch -> B's top:  {{acc:.3f}}")
print(f"stitching penalty:                {{acc_b - acc:+.3f}}")
'''

TRANSFER = '''\
import numpy as np
from unireps.transfer import LinearMap, fit_probe
from unireps.applications import digits_embeddings

a, b, y, train, test = digits_embeddings(width_a=64, width_b=128)   # two MLPs, different widths and seeds
probe = fit_probe(a[train], y[train])                                # a digit probe on A's embedding
anchors = np.random.default_rng(0).choice(train, 100, replace=False) # 100 inputs both models saw
to_a = LinearMap("ridge", alpha=1e-2).fit(b[anchors], a[anchors])    # B's space -> A's space
print(f"probe on A:                 {{probe.score(a[test], y[test]):.3f}}")
print(f"probe on B through the map: {{probe.score(to_a.transform(b[test]), y[test]):.3f}}")
print(f"chance:                     {{np.bincount(y[test]).max() / len(test):.3f}}")
'''


def snippet_code(n: int = 500) -> dict[str, str]:
    """The code of each snippet, with the run's number of stimuli filled in.

    >>> sorted(snippet_code(100))
    ['cka', 'stitch', 'transfer']
    """
    return {"cka": CKA.format(n=n), "stitch": STITCH.format(), "transfer": TRANSFER.format()}


def run_snippet(code: str) -> tuple[str, float]:
    """Execute ``code`` in a fresh namespace; return what it printed and the seconds it took.

    >>> run_snippet("print(1 + 1)")[0]
    '2\\n'
    """
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<snippet>", "exec"), {"__name__": "__snippet__"})  # noqa: S102 - our own code
    return buf.getvalue(), time.perf_counter() - t0


def run_snippets(n: int = 500, progress=None) -> dict[str, dict]:
    """Execute every snippet; ``{name: {"code", "output", "seconds"}}``."""
    out = {}
    for name, code in snippet_code(n).items():
        if progress:
            progress(f"snippet: {name}...")
        try:
            output, seconds = run_snippet(code)
        except Exception as e:
            raise RuntimeError(f"the post's {name!r} snippet failed when executed: {type(e).__name__}: {e}") from e
        out[name] = {"code": code, "output": output, "seconds": round(seconds, 2)}
    return out
