"""Write the UniReps blog post (al-folio, Distill layout) from a run's results.

Every number in the text comes from ``RunResults.numbers`` (a missing number is an error, never a blank);
statements about the literature carry ``<d-cite>`` keys that resolve in the generated .bib.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write_text
from .bib import bibtex

SLUG = "representational_convergence_in_a_small_world"
FIGURES = ("embeddings", "heatmap_linear_cka", "layers", "brain_human", "stitching", "lmc", "lmc_barriers")


@dataclass
class Author:
    name: str = "The unireps authors"
    url: str = "https://github.com/unireps"
    affiliations: str = "unireps project"


class Numbers:
    """Formats the run's numbers; an unknown key raises KeyError naming it."""

    def __init__(self, numbers: dict):
        self.n = numbers

    def __call__(self, key: str, fmt: str = ".2f") -> str:
        if key not in self.n:
            raise KeyError(f"the post needs the number {key!r}, which the run did not produce")
        v = self.n[key]
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "yes" if v else "no"
        if fmt == "%":
            return f"{100 * float(v):.1f}%"
        if fmt == "pp":
            return f"{100 * float(v):.1f} percentage points"
        return format(v, fmt)

    def get(self, key: str) -> float:
        """The raw value (for comparisons in the prose); missing is an error as in ``__call__``."""
        self(key)
        return float(self.n[key])


def _cmp(a: float, b: float, more: str = "higher than", less: str = "lower than", same: str = "equal to") -> str:
    return more if a > b else less if a < b else same


def _figure(key: str, name: str, caption: str, plotly: bool = True) -> str:
    img = f"assets/img/{key}/{name}.png"
    parts = [f'<figure>\n<img src="{{{{ \'{img}\' | relative_url }}}}" alt="{caption}" style="width:100%">']
    parts.append(f"<figcaption>{caption}")
    if plotly:
        parts.append(f' <a href="{{{{ \'assets/plotly/{key}/{name}.html\' | relative_url }}}}">Interactive version.</a>')
    parts.append("</figcaption>\n</figure>\n")
    return "".join(parts)


def _iframe(key: str, name: str, height: int = 480) -> str:
    return (f"<iframe src=\"{{{{ 'assets/plotly/{key}/{name}.html' | relative_url }}}}\" frameborder='0' "
            f"scrolling='no' height=\"{height}px\" width=\"100%\"></iframe>\n")


def body(key: str, N: Numbers, provenance: dict) -> str:  # noqa: N803
    g = N.get
    n_perm = provenance.get("n_permutations")
    max_p = g("cross_family_linear_cka_max_p")
    floor = 1.0 / (n_perm + 1) if n_perm else None
    if floor is not None and max_p <= floor + 1e-12:
        p_sentence = (f"Every trained pair is beyond all {n_perm} permutations of the stimulus pairing (p = "
                      f"{max_p:.3f} for each, the smallest value {n_perm} permutations can give).")
    else:
        p_sentence = (f"The largest permutation p-value among the trained pairs is {max_p:.3f}"
                      + (f" with {n_perm} permutations." if n_perm else "."))
    knn_vs = _cmp(g("cross_family_mutual_knn_trained_mean"), g("cross_family_mutual_knn_untrained_mean"),
                  "above", "below", "equal to")
    factor_rank = ("the highest of the three" if g("factor_cka_contrastive") > max(g("factor_cka_reconstruction"),
                                                                                    g("factor_cka_supervised"))
                   else "not the highest of the three, and on this measure the objectives barely differ"
                   if max(g("factor_cka_reconstruction"), g("factor_cka_supervised")) - g("factor_cka_contrastive")
                   < 0.05 else "not the highest of the three")
    obj_vs_seed = _cmp(g("objective_cka_max"), g("seed_linear_cka_mean"), "even the most similar pair of "
                       "objectives is more alike than", "even the most similar pair of objectives is less alike "
                       "than", "the most similar pair of objectives is as alike as")
    seeds_vs = _cmp(g("seed_linear_cka_mean"), g("trained_vs_untrained_linear_cka_mean"))
    train_dir = ("rises" if g("training_linear_cka_end") > g("training_linear_cka_start") else "does not rise")
    ident_better = _cmp(g("identification_linear_cka"), g("identification_cca"), "higher than", "lower than",
                        "the same as")
    lm_dir = _cmp(g("xmodal_mutual_knn_lm_trained_mean"), g("xmodal_mutual_knn_lm_untrained_mean"),
                  "higher than", "lower than", "equal to")
    brain_vs = _cmp(g("brain_best_human"), g("ceiling_lower"), "above", "below", "at")
    widths = N("lmc_widths")
    wmax = max(int(w) for w in widths.split(", "))
    wmin = min(int(w) for w in widths.split(", "))
    claims = [
        ("independently trained stand-ins agree more with each other than their untrained twins do",
         g("cross_family_linear_cka_trained_mean") > g("cross_family_linear_cka_untrained_mean")),
        ("two seeds of one architecture agree more than a trained model and an untrained one",
         g("seed_linear_cka_mean") > g("trained_vs_untrained_linear_cka_mean")),
        ("linear CKA identifies corresponding layers more often than CCA",
         g("identification_linear_cka") > g("identification_cca")),
        ("stitching two seeds costs less than stitching onto a random bottom",
         g("stitch_penalty_mean") < g("stitch_control_mean")),
        (f"weight matching removes most of the interpolation barrier at width {wmax}",
         g(f"lmc_loss_barrier_w{wmax}_weight_matching") < 0.5 * g(f"lmc_loss_barrier_w{wmax}_naive")),
        ("a linear map transfers a probe from one model to another far better than no map",
         g("transfer_ridge") > g("transfer_no_map") + 0.1),
    ]
    held = [c for c, ok in claims if ok]
    failed = [c for c, ok in claims if not ok]
    conclusion = ("In this small world, " + "; ".join(held) + "." if held else "In this small world none of the "
                  "expected regularities held.")
    if failed:
        conclusion += " Not observed in this run: " + "; ".join(failed) + "."
    pkgs = provenance.get("packages", {})
    versions = ", ".join(f"{k} {v}" for k, v in pkgs.items() if v)
    cmd = provenance.get("command_line", "unireps report --out runs/report")
    return f"""
## The puzzle

Networks trained from different random initialisations, with different architectures, objectives and even
modalities often end up with representations that are strikingly similar when compared with the right
measure<d-cite key="li2015,kornblith2019"></d-cite>. Vision–language models such as CLIP, ALIGN, BLIP, FLAVA and
SigLIP<d-cite key="radford2021,jia2021,li2022blip,singh2022,zhai2023"></d-cite> learn a shared image–text space
with different losses and encoders, and the Platonic Representation Hypothesis argues that models are converging
towards a shared statistical model of reality<d-cite key="huh2024"></d-cite>. Why should independent optimisation
runs agree, and how would we know?

This post asks these questions in a world small enough to measure everything. We train stand-ins of the five
seed families here, built from their own model classes, on a procedurally generated image–caption world whose
generative factors (shape, colour, size, position) we know, together with {N("n_zoo_models", "d")} zoo models
in all (trained models, their untrained twins and training checkpoints). These are small models trained for
minutes on synthetic data, not the released checkpoints: every number below is about them, measured in the run
described in the appendix. The same code runs on the real checkpoints where they are available.

Across the five trained stand-ins, linear CKA between image embeddings averages
{N("cross_family_linear_cka_trained_mean")} (range {N("cross_family_linear_cka_trained_min")} to
{N("cross_family_linear_cka_trained_max")}) on {N("n_stimuli", "d")} held-out images, against
{N("cross_family_linear_cka_untrained_mean")} between their untrained twins and
{N("cross_family_linear_cka_shuffled_mean")} when the stimulus pairing is shuffled.

## An interactive demonstration

`unireps app` serves an interactive module (offline, on your machine) where you choose two to four models, see
their embedding spaces side by side with the same stimuli linked, upload your own image and captions, and try
stitching, merging and transfer live. The figure below shows the same {N("n_embedding_panel_images", "d")} held-out
images in {N("n_embedding_panel_models", "d")} of the zoo models, each projected to two dimensions and rotated onto
the first.

{_figure(key, "embeddings", f"The same {N('n_embedding_panel_images', 'd')} held-out images embedded by "
         f"{N('n_embedding_panel_models', 'd')} zoo models (PCA, orthogonally aligned to the first panel); colour "
         "marks the shape factor.")}

## Measuring convergence

**Centered kernel alignment.** For representations $$X \\in \\mathbb{{R}}^{{n\\times d_1}}$$ and
$$Y \\in \\mathbb{{R}}^{{n\\times d_2}}$$ of the same $$n$$ stimuli with column-centred features, linear CKA is

$$\\mathrm{{CKA}}(X, Y) = \\frac{{\\lVert Y^\\top X\\rVert_F^2}}{{\\lVert X^\\top X\\rVert_F \\, \\lVert Y^\\top Y\\rVert_F}},$$

the normalised Hilbert–Schmidt independence criterion of the linear kernels<d-cite key="gretton2005,kornblith2019"></d-cite>;
the debiased variant replaces HSIC by its unbiased estimator<d-cite key="song2012"></d-cite>. CKA is invariant to
orthogonal transformations and isotropic scaling but not to arbitrary invertible linear maps, which is what lets it
identify corresponding layers<d-cite key="kornblith2019"></d-cite>.

**Representational similarity analysis** compares the matrices of pairwise dissimilarities between stimuli,
here correlation distance compared by Spearman's rank correlation<d-cite key="kriegeskorte2008rsa,nili2014"></d-cite>.
**Mutual k-nearest neighbours** measures the average overlap of each stimulus's neighbourhoods
in the two spaces<d-cite key="huh2024"></d-cite>. CCA-based measures<d-cite key="raghu2017,morcos2018"></d-cite>
and Procrustes shape distances<d-cite key="williams2021"></d-cite> complete the set; all are implemented in
`unireps.metrics` and checked against the reference implementations.

```python
from unireps.analysis import compare_models
res = compare_models(["zoo:clip-s0", "zoo:siglip-s0", "zoo:align-s0", "zoo:blip-s0", "zoo:flava-s0"],
                     dataset, metrics=["linear_cka", "mutual_knn"], n_boot=100, n_permutations=100)
```

{_figure(key, "heatmap_linear_cka", "Linear CKA between the image embeddings of the five stand-ins, their untrained "
         "twins and the raw pixels, with 95% bootstrap intervals over stimuli.")}

**Findings.** {p_sentence} The most similar pair is {N("cross_family_linear_cka_best_pair")}.
Mutual k-NN (k = 10), a stricter and more local measure, gives {N("cross_family_mutual_knn_trained_mean")}
between trained models, {knn_vs} the {N("cross_family_mutual_knn_untrained_mean")} between untrained twins.

*Seeds.* Two seeds of one architecture (a CNN image tower with a GRU text tower, contrastive loss;
{N("n_seeds", "d")} seeds) reach a mean linear CKA of {N("seed_linear_cka_mean")} (lowest pair
{N("seed_linear_cka_min")}), {seeds_vs} the mean between a trained model and an untrained one
({N("trained_vs_untrained_linear_cka_mean")}); mutual k-NN gives {N("seed_mutual_knn_mean")} against
{N("trained_vs_untrained_mutual_knn_mean")}.

*Layers.* Between the two seeds, the most similar layer by linear CKA is the corresponding layer for
{N("identification_linear_cka", "%")} of the {N("n_layers", "d")} layers, {ident_better} CCA
({N("identification_cca", "%")}) and SVCCA ({N("identification_svcca", "%")}): the layer-identification test of
Kornblith et al.<d-cite key="kornblith2019"></d-cite> on our models.

{_figure(key, "layers", "Linear CKA between every layer of two seeds of the same architecture.")}

## Why do representations converge?

**The data manifold.** If the data are generated by a small set of latent factors, any model that solves the task
well must recover them, and identifiability results for contrastive learning make this precise: under
assumptions on the data-generating process, contrastive objectives recover the latents up to simple
transformations<d-cite key="zimmermann2021,roeder2021"></d-cite>. In our world we can measure it: linear CKA
between the contrastive model's embedding and the one-hot generative factors is
{N("factor_cka_contrastive")}, against {N("factor_cka_reconstruction")} for the autoencoder and
{N("factor_cka_supervised")} for the model supervised on the factors themselves; the contrastive model is
{factor_rank}. Linear CKA with
one-hot factors rewards linear, isotropic codes, so these values bound how linearly each model encodes the
factors rather than what it can decode.

**The optimisation landscape.** Independently trained networks are often connected by low-loss paths once the
permutation symmetry of hidden units is factored out<d-cite key="entezari2022,ainsworth2023"></d-cite>; the
merging experiment below measures this directly.

**Inductive biases.** Architectures and objectives impose their own geometry. With the architecture fixed (the
CNN image tower), linear CKA between models trained with different objectives (contrastive, sigmoid, supervised,
reconstruction) ranges from {N("objective_cka_min")} to {N("objective_cka_max")}; {obj_vs_seed} two seeds of the
contrastive model ({N("seed_linear_cka_mean")}).

**The information bottleneck.** Compressing inputs while keeping what predicts the target<d-cite key="tishby2015"></d-cite>
would push different models towards the same sufficient statistics; contrastive objectives trade alignment
against uniformity on the sphere<d-cite key="wang2020"></d-cite>.

{_figure(key, "factors", "Linear CKA between each objective's embedding and the generative factors.", plotly=True)
 if "factors" in provenance.get("figures", []) else ""}
## Neuroscience parallels

Representational similarity analysis was developed to compare brains, models and behaviour on the same
stimuli<d-cite key="kriegeskorte2008rsa"></d-cite>. On the 92-object set of Kriegeskorte et al.<d-cite
key="kriegeskorte2008neuron"></d-cite>, human IT and monkey IT dissimilarities correlate at Spearman
{N("brain_monkey_vs_human", ".3f")} in our computation on the published RDMs. Trained deep networks predict IT
representations well<d-cite key="yamins2014,khaligh2014"></d-cite>. Our tiny models, trained on coloured shapes at
32 pixels, are a harder case: their best layer reaches {N("brain_best_human", ".3f")} against human IT (mean over
the four subjects; {N("brain_best_human_layer")}), {brain_vs} the lower bound of the noise ceiling
[{N("ceiling_lower", ".3f")}, {N("ceiling_upper", ".3f")}], and {N("brain_best_monkey", ".3f")} against monkey IT
({N("brain_best_monkey_layer")}). The categorical animacy model RDM reaches {N("brain_animacy_human", ".3f")}.

{_figure(key, "brain_human", "RSA (Spearman) of each layer with human IT, mean over four subjects; grey band: the "
         "noise ceiling; reference rows: the classic model RDMs and behaviour.")}

## Applications: stitching, merging, transfer

**Stitching.** Plugging the bottom of one network into the top of another through a learned affine layer tests
whether their intermediate representations are interchangeable<d-cite key="lenc2015,bansal2021,csiszarik2021"></d-cite>.
Between two seeds of a digits MLP, the stitching penalty (B's accuracy minus the stitched model's) averages
{N("stitch_penalty_mean", "pp")} (at most {N("stitch_penalty_max", "pp")}), while the control with a randomly
initialised bottom loses {N("stitch_control_mean", "pp")} on average.

{_figure(key, "stitching", "Stitching penalty per cut and fitting method (task loss with both models frozen, or "
         "least squares), with the random-bottom control.")}

**Merging.** Interpolating the weights of two independently trained MLPs on digits crosses a loss barrier of
{N(f"lmc_loss_barrier_w{wmax}_naive", ".3f")} at width {wmax}; after weight matching<d-cite key="ainsworth2023"></d-cite>
it is {N(f"lmc_loss_barrier_w{wmax}_weight_matching", ".3f")} (at width {wmin}: {N(f"lmc_loss_barrier_w{wmin}_naive", ".3f")}
naive, {N(f"lmc_loss_barrier_w{wmin}_weight_matching", ".3f")} aligned)<d-cite key="frankle2020,entezari2022"></d-cite>.
On a multi-task setting (one pretrained trunk fine-tuned on three digit tasks), the mean normalised accuracy of the
merged trunk is {N("merge_uniform_soup", ".3f")} for a uniform soup<d-cite key="wortsman2022"></d-cite>,
{N("merge_task_arithmetic", ".3f")} for task arithmetic<d-cite key="ilharco2023"></d-cite>,
{N("merge_ties", ".3f")} for TIES<d-cite key="yadav2023"></d-cite> and {N("merge_fisher", ".3f")} for Fisher
averaging<d-cite key="matena2022"></d-cite>.

{_figure(key, "lmc", f"Loss along the linear path between two digits MLPs of width {wmax}, before and after "
         "permutation alignment.")}

**Transfer.** A linear probe trained on model A's embedding can be reused on model B's through a map fitted on a
few shared anchor inputs. With {N("transfer_max_anchors", "d")} anchors, probe accuracy on B is
{N("transfer_ridge", ".3f")} through a ridge map, {N("transfer_procrustes", ".3f")} through scaled orthogonal
Procrustes and {N("transfer_relative", ".3f")} with relative representations<d-cite key="moschella2023"></d-cite>,
against {N("transfer_no_map", ".3f")} without a map; the probe scores {N("transfer_a_on_a", ".3f")} on A itself
and chance is {N("transfer_chance", ".3f")}.

{_iframe(key, "transfer")}
## When does convergence occur?

Over training, the similarity of a CNN's embedding to other trained architectures {train_dir}: linear CKA
from {N("training_linear_cka_start")} at initialisation to {N("training_linear_cka_end")} at the end of training
(mean over the reference models). Width matters for connectivity: the figure below gives the loss barrier for
each width, naive and after alignment (widths {widths}); that wider networks are easier to align was reported
before<d-cite key="entezari2022,ainsworth2023"></d-cite>.

{_figure(key, "lmc_barriers", "Loss barrier between two digits MLPs against width, naive and after weight or "
         "activation matching (test split, mean over seed pairs).")}

Across modalities, mutual k-NN between each model's image embedding and MiniLM's sentence embedding of the
captions<d-cite key="reimers2019"></d-cite> averages {N("xmodal_mutual_knn_lm_trained_mean", ".3f")} for trained
models, {lm_dir} their untrained twins ({N("xmodal_mutual_knn_lm_untrained_mean", ".3f")}); across the
{N("xmodal_n_models", "d")} models and twins, its Spearman correlation with image→text retrieval R@1 is
{N("xmodal_mutual_knn_image_vs_language_model_vs_r1_spearman")}. The Platonic Representation Hypothesis predicts a positive relation<d-cite key="huh2024"></d-cite>.

{_figure(key, "crossmodal", "Alignment with a language model against retrieval competence.")}

## Open questions

Which measure should decide whether two models "represent the same thing" remains contested: measures disagree
and each has blind spots<d-cite key="klabunde2023,sucholutsky2023"></d-cite>. Convergence on a small procedural world
need not hold for web-scale models and data; repeating these analyses on the released CLIP, SigLIP, ALIGN, BLIP and
FLAVA checkpoints (`unireps compare clip-vit-b32 siglip-base align-base blip-itm-base-coco flava-full
--allow-download`) is the obvious next step. Whether the agreement between brains and models comes from shared
data statistics, shared objectives or shared constraints is open.

## Conclusion

{conclusion} Every number here was measured by the `unireps` run in the appendix; none is taken from elsewhere
unless cited.

## Appendix: reproducibility

```bash
{cmd}
```

Versions: {versions}. Zoo preset `{provenance.get("preset", "default")}`, analysis seed {provenance.get("seed", 0)},
{provenance.get("n_boot", "")} bootstrap resamples, {provenance.get("n_permutations", "")} permutations,
{N("n_stimuli", "d")} held-out shapes stimuli (generator seed 1). Run time: {provenance.get("run_time", "")}.
"""


TOC = [{"name": "The puzzle"}, {"name": "An interactive demonstration"},
       {"name": "Measuring convergence"}, {"name": "Why do representations converge?"},
       {"name": "Neuroscience parallels"},
       {"name": "Applications: stitching, merging, transfer"}, {"name": "When does convergence occur?"},
       {"name": "Open questions"}, {"name": "Conclusion"}, {"name": "Appendix: reproducibility"}]


def front_matter(key: str, date: str, authors: list[Author]) -> str:
    import yaml

    fm = {"layout": "distill", "title": "Representational convergence in a small world",
          "description": "When, how and why do different neural models learn the same representations? Measured "
                         "end to end on small models trained on a procedural image-caption world, with brain data.",
          "tags": ["representational similarity", "CKA", "RSA", "model stitching", "model merging"],
          "giscus_comments": True, "date": date, "featured": False,
          "authors": [{"name": a.name, "url": a.url, "affiliations": {"name": a.affiliations}} for a in authors],
          "bibliography": f"{key}.bib", "toc": TOC}
    return "---\n" + yaml.safe_dump(fm, sort_keys=False, allow_unicode=True) + "---\n"


def write_post(results, root: str | Path, date: str | None = None, slug: str = SLUG,
               authors: list[Author] | None = None, provenance: dict | None = None) -> Path:
    """Write the submission tree under ``root``: _posts/, assets/bibliography, assets/img, assets/plotly."""
    from ..viz import save

    if not re.fullmatch(r"\w+", slug):
        raise ValueError(f"slug {slug!r} must be letters, digits and underscores (a hyphen cuts the blog's key)")
    date = date or _dt.date.today().isoformat()
    key = f"{date}-{slug}"
    root = Path(root)
    provenance = dict(provenance or {})
    provenance["figures"] = list(results.figures)
    N = Numbers(results.numbers)  # noqa: N806
    text = body(key, N, provenance)
    for name, fig in results.figures.items():
        save(fig, html_path=root / "assets" / "plotly" / key / f"{name}.html",
             png_path=root / "assets" / "img" / key / f"{name}.png")
    cited = [k.strip() for group in re.findall(r'<d-cite\s+key="([^"]+)"', text) for k in group.split(",")]
    atomic_write_text(root / "assets" / "bibliography" / f"{key}.bib", bibtex(cited))
    post = root / "_posts" / f"{key}.md"
    atomic_write_text(post, front_matter(key, date, authors or [Author()]) + text)
    return post
