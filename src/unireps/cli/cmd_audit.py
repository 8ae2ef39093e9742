"""``unireps audit X Y``: the reliability report of one comparison (``unireps.audit``)."""

from __future__ import annotations

from .common import add_json, emit


def register(sub) -> None:
    p = sub.add_parser("audit", help="reliability audit of one comparison of two representations",
                       description="n, d, effective rank, biased and debiased CKA, the permutation null (mean, 95th "
                       "percentile, p), a bootstrap CI, split-half reliability of each side, outlier dimensions and "
                       "the measure's sensitivity to them, with plain-language warnings.")
    p.add_argument("x", help="representation X: an (n, d1) array file (.npy, .npz, .pt, .pth, .safetensors)")
    p.add_argument("y", help="representation Y: an (n, d2) array file over the same n stimuli")
    p.add_argument("--metric", default="linear_cka", help="the measure audited (default: linear_cka)")
    p.add_argument("--permutations", type=int, default=1000, help="permutations for the null (default 1000)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over stimuli (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import audit
    from .cmd_metrics import load_array
    from .common import positive

    positive("--permutations", args.permutations, 0)
    positive("--bootstrap", args.bootstrap, 0)
    if args.bootstrap == 1:
        raise ValueError("--bootstrap 1: use 0 (no interval) or at least 2 resamples")
    a = audit(load_array(args.x), load_array(args.y), args.metric, n_permutations=args.permutations,
              n_boot=args.bootstrap, seed=args.seed)
    if args.json:
        emit({**a.numbers, "warnings": a.warnings}, True)
    else:
        print(a.summary())
    return 0
