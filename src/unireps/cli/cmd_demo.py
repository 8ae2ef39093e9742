"""``unireps demo``: the README's main job on the embedded default."""

from __future__ import annotations

import time

from ..analysis.metrics_demo import brain_known_answer, digit_representations, metrics_table
from ..io import write_json, write_table
from ..provenance import provenance
from .common import add_json, add_out, emit, out_dir


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the standard analyses on the embedded default and write the results",
                       description="Compare representations of the embedded default with every measure (with "
                       "bootstrap CIs and permutation p-values), check the 92-object brain data, write tidy "
                       "tables and a provenance record.")
    add_out(p, default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples (default 200)")
    p.add_argument("--permutations", type=int, default=200, help="permutations (default 200)")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    t0 = time.perf_counter()
    out = out_dir(args.out)
    table = metrics_table(digit_representations(args.seed), n_boot=args.n_boot, n_permutations=args.permutations,
                          seed=args.seed)
    brain = brain_known_answer()
    write_table(table, out / "metrics_digits.csv")
    write_table(brain, out / "brain_known_answer.csv")
    write_json(out / "provenance.json", provenance(seed=args.seed, n_boot=args.n_boot,
                                                   permutations=args.permutations, dataset="digits"))
    if args.json:
        emit({"metrics": table.to_dict("records"), "brain": brain.to_dict("records"), "out": str(out)}, True)
        return 0
    pivot = table.pivot_table(index="metric", columns="representation", values="value", sort=False)
    print("Similarity of each representation of the 1,797 digits to the raw pixels:\n")
    print(pivot.round(3).to_string())
    cka = table[table.metric == "linear_cka"][["representation", "value", "ci_low", "ci_high", "p_value"]]
    print("\nLinear CKA with 95% bootstrap CI and permutation p-value:\n")
    print(cka.round(4).to_string(index=False))
    print("\nKriegeskorte et al. 2008, monkey IT vs human IT RDMs (92 objects):\n")
    print(brain.round(3).to_string(index=False))
    print(f"\nWrote {out}/metrics_digits.csv, brain_known_answer.csv, provenance.json "
          f"in {time.perf_counter() - t0:.1f}s")
    return 0
