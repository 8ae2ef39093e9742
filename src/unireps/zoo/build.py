"""Build zoo models: train (or just initialise) each missing one, evaluate it, write weights + card."""

from __future__ import annotations

import contextlib
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .catalog import Entry, catalogue, entry, preset_entries
from .data import zoo_data
from .evaluate import probes, retrieval
from .store import CARD, WEIGHTS, atomic_dir, build_lock, is_built, sha256_file, write_json, zoo_dir
from .train import count_parameters, deterministic, make_task


@dataclass
class BuildResult:
    """What one `build` call did. ``trained_runs`` counts training runs (0 when all was cached)."""

    preset: str | None
    root: Path
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    trained_runs: int = 0
    seconds: float = 0.0

    def __repr__(self) -> str:
        return (f"BuildResult(preset={self.preset!r}, built={len(self.built)}, skipped={len(self.skipped)}, "
                f"trained_runs={self.trained_runs}, seconds={self.seconds:.1f}, root='{self.root}')")


def build(preset: str = "default", cache_dir=None, progress: bool = True, force: bool = False, *,
          names: list[str] | None = None, workers: int | None = None) -> BuildResult:
    """Build every model of ``preset`` (or just ``names``) that is not already built in ``zoo_dir(cache_dir)``.

    Models with a valid card and weights are skipped unless ``force``. Each recipe trains in one
    thread (see :mod:`unireps.zoo.train`); ``workers`` recipes train side by side in forked worker
    processes (default: the number of CPU cores available, at most 4; 1 = all in this process;
    forking is used on Linux only). Results do not depend on ``workers``. Each model folder appears
    atomically. ``progress`` shows tqdm bars (models; and steps, when building in this process).
    """
    t0 = time.perf_counter()
    root = zoo_dir(cache_dir)
    if names is not None:
        entries = [entry(n) for n in names]
        preset = None
    else:
        entries = preset_entries(preset)
    result = BuildResult(preset=preset, root=root)
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.base, []).append(e)
    with build_lock(root), _quiet_transformers():
        todo: dict[str, list[Entry]] = {}
        for base, es in groups.items():
            h = es[0].recipe.hash()
            missing = [e for e in es if force or not is_built(root / e.name, h)]
            result.skipped += [e.name for e in es if e not in missing]
            if missing:
                todo[base] = missing
        n_workers = _workers(workers, len(todo))
        bar = None
        if progress and todo:
            from tqdm.auto import tqdm

            bar = tqdm(total=sum(len(v) for v in todo.values()), desc=f"zoo {preset or 'build'}", unit="model")

        def finished(base: str, done: list[str], trained: bool) -> None:
            result.built += done
            result.trained_runs += int(trained)
            if bar is not None:
                bar.set_postfix_str(base)
                bar.update(len(done))

        try:
            if n_workers <= 1:
                for base, missing in todo.items():
                    if bar is not None:
                        bar.set_postfix_str(base)
                    finished(base, *_build_group(catalogue()[base], missing, root, progress))
            else:
                _build_parallel(todo, root, n_workers, finished)
        finally:
            if bar is not None:
                bar.close()
    result.seconds = time.perf_counter() - t0
    return result


def _workers(workers: int | None, n_groups: int) -> int:
    import multiprocessing as mp
    import os
    import sys

    if n_groups <= 1 or not sys.platform.startswith("linux") or "fork" not in mp.get_all_start_methods():
        return 1
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = min(cores, 4)
    return max(1, min(int(workers), n_groups))


def _group_cost(entries: list[Entry]) -> float:
    r = entries[0].recipe
    trains = any(e.variant != "untrained" for e in entries)
    return (r.steps if trains else 0) * (3.0 if r.kind == "hf" else 1.0) * r.batch_size + 50 * len(entries)


def _worker_build(base: str, names: list[str], root: str) -> tuple[str, list[str], bool]:
    with _quiet_transformers():
        return (base, *_build_group(catalogue()[base], [entry(n) for n in names], Path(root), False))


def _build_parallel(todo: dict[str, list[Entry]], root: Path, n_workers: int, finished) -> None:
    """Recipes in forked worker processes, most expensive first; ``finished`` is called as each completes."""
    import multiprocessing as mp
    import os
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the Rust tokenizer's thread pool does not survive fork
    import sklearn.linear_model  # noqa: F401  (import once here, not once per worker)
    import transformers

    for es in todo.values():  # generate the data once, before forking: the workers inherit it
        r = es[0].recipe
        zoo_data(r.n_train, r.n_eval, r.n_probe)
        if r.kind == "hf":
            from .hf import FAMILIES

            family = FAMILIES[r.family]
            getattr(transformers, family.model_class)
            family({**r.size})
    order = sorted(todo, key=lambda b: -_group_cost(todo[b]))
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context("fork")) as pool:
        pending = {pool.submit(_worker_build, b, [e.name for e in todo[b]], str(root)) for b in order}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                finished(*fut.result())


@contextlib.contextmanager
def _quiet_transformers():
    """No "Writing model shards" bars or config chatter from transformers while building."""
    from transformers.utils import logging as hf_logging

    bars, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _build_group(base: Entry, outputs: list[Entry], root: Path, progress: bool) -> tuple[list[str], bool]:
    """Train ``base``'s recipe once if any output needs training, then evaluate and write each output."""
    r = base.recipe
    data = zoo_data(r.n_train, r.n_eval, r.n_probe)
    recipe_hash = r.hash()
    with deterministic():
        task = make_task(r, data)
        model = task.build()
        states = {0: {k: v.detach().clone() for k, v in model.state_dict().items()}}
        times = {0: 0.0}
        losses: list = []
        trained = any(e.variant != "untrained" for e in outputs)
        if trained:
            save_at = {0, r.steps, *r.checkpoint_steps().values()}
            res = task.train(model, r.steps, save_at, progress=progress, desc=base.name)
            states, times, losses = res.states, res.times, res.losses
        done = []
        for e in outputs:
            model.load_state_dict(states[e.step])
            model.eval()
            t1 = time.perf_counter()
            metrics = _evaluate(task, model, data)
            eval_s = time.perf_counter() - t1
            with atomic_dir(root / e.name) as tmp:
                _save(task, model, tmp)
                card = _card(e, task, model, data, metrics, recipe_hash, times.get(e.step, 0.0), eval_s,
                             [x for x in losses if x[0] < max(e.step, 1)], tmp)
                write_json(tmp / CARD, card)
            done.append(e.name)
    return done, trained


def _evaluate(task, model, data) -> dict[str, Any]:
    ev = task.embed(model, data.eval)
    comp = task.embed(model, data.compositional)
    probe_fit = task.embed(model, data.probe)
    out: dict[str, Any] = {"retrieval": None, "retrieval_compositional": None}
    if "text" in ev:
        out["retrieval"] = retrieval(ev["image"], ev["text"], data.eval)
        out["retrieval_compositional"] = retrieval(comp["image"], comp["text"], data.compositional)
    out["probe"] = probes(probe_fit["image"], data.probe, ev["image"], data.eval)
    return out


def _save(task, model, folder: Path) -> None:
    if task.recipe.kind == "hf":
        task.family.save(model, folder)
        return
    from safetensors.torch import save_file

    from .tokenizer import shapes_vocab, vocab_hash

    r = task.recipe
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS), metadata={"format": "pt"})  # one key: the header stays byte-stable
    meta = {
        "format": "unireps-zoo-plain/1", "image": r.image, "text": r.text, "objective": r.objective, "dim": r.dim,
        "layers": {"image": list(model.image.LAYERS), **({"text": list(model.text.LAYERS)} if model.text else {})},
        "num_prefix_tokens": {"image": int(getattr(model.image, "num_prefix_tokens", 0))},
        "preprocess": {"image": "uint8 (n, H, W, 3) -> float (n, 3, H, W) / 255 (from_module default); the "
                                "tower normalises with mean 0.02, std 0.1",
                       "text": "zoo WordPiece tokenizer (vocab.txt), padding to the longest text, attention mask"},
        "vocab_hash": vocab_hash() if r.text else None,
    }
    write_json(folder / "zoo_model.json", meta)
    if r.text:
        (folder / "vocab.txt").write_text("\n".join(shapes_vocab()) + "\n")


def _card(e: Entry, task, model, data, metrics, recipe_hash: str, train_s: float, eval_s: float, losses,
          folder: Path) -> dict[str, Any]:
    import transformers

    r = e.recipe
    arch: dict[str, Any]
    if r.kind == "hf":
        arch = task.family.describe(model)
    else:
        arch = {"image": r.image, "text": r.text, "embedding_dim": r.dim,
                "layers": json.loads((folder / "zoo_model.json").read_text())["layers"]}
    weights = folder / WEIGHTS
    summary = {
        "i2t_r1": None if metrics["retrieval"] is None else metrics["retrieval"]["i2t_r1"],
        "t2i_r1": None if metrics["retrieval"] is None else metrics["retrieval"]["t2i_r1"],
        "chance_r1": None if metrics["retrieval"] is None else metrics["retrieval"]["chance_r1"],
        "probe_shape": metrics["probe"]["accuracy"]["shape"],
        "probe_colour": metrics["probe"]["accuracy"]["colour"],
        "train_time_s": round(train_s, 2),
    }
    return {
        "name": e.name,
        "load": f"unireps.models.load_model('zoo:{e.name}')",
        "description": e.description,
        "kind": r.kind,
        "family": e.family,
        "variant": e.variant,
        "base": e.base,
        "untrained_twin": f"{e.base}-untrained",
        "percent_trained": e.percent,
        "architecture": arch,
        "objective": r.objective,
        "parameters": count_parameters(model),
        "data": {**data.describe()["train"], "eval": data.describe()["eval"],
                 "compositional": data.describe()["compositional"], "probe": data.describe()["probe"]},
        "steps": e.step,
        "total_steps": r.steps,
        "batch_size": r.batch_size,
        "lr": r.lr,
        "seed": r.seed,
        "summary": summary,
        "retrieval": metrics["retrieval"],
        "retrieval_compositional": metrics["retrieval_compositional"],
        "probe": metrics["probe"],
        "train_time_s": round(train_s, 2),
        "eval_time_s": round(eval_s, 2),
        "loss_curve": [[s, v] for s, v in losses],
        "recipe": r.to_dict(),
        "recipe_hash": recipe_hash,
        "weights_file": WEIGHTS,
        "weights_sha256": sha256_file(weights),
        "environment": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "python": platform.python_version(), "threads": torch.get_num_threads()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
