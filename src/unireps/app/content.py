"""The pages' prose.  Every claim carries its source (author, year, venue); numbers appear only when they are
measured live by the app (inserted at run time) or quoted from a cited source."""

from __future__ import annotations

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

RESEARCH_INTRO = """
# Do different neural networks learn the same representations?

This is the research module of **unireps**.  Every number on these pages is computed on this machine, live, by the
`unireps` library (the puzzle below at startup, everything else when you ask), or quoted with its source.
The student primer on how one image–text model works is [here](../multimodal/).
"""

PUZZLE = """
## Why convergence is surprising

A network's weights start random, its training examples arrive in a random order, and its hidden units can be
permuted, rotated or rescaled without changing what it computes.  So two networks trained from different seeds
have no reason to use the *same* coordinates — and they do not.  Yet, compared in a way that ignores exactly those
symmetries, they often arrange the same inputs in nearly the same geometry: Li et al. (2016, ICLR) matched many
individual units across networks trained from different initialisations, and Kornblith et al. (2019, ICML) found
that centred kernel alignment (CKA) identifies corresponding layers across such networks.  Huh et al. (2024, ICML)
go further with the *Platonic Representation Hypothesis*: that models trained on different data and modalities
are converging towards a shared statistical model of the world.

The question this module explores is **when, how and why** that happens — and the first thing to check is that
the agreement is not an artefact.  Below, two real networks pretrained on ImageNet, EfficientNet-Lite0 and
EfficientNet-Lite2 (different depths, widths and input sizes), are compared on the 92 photographs of Kriegeskorte
et al. (2008): human and animal faces and bodies, natural and man-made objects.  Each value stands beside two
baselines: the untrained twins (the same architectures with random weights: what the architecture alone gives)
and the shuffled pairing (one network's photos matched at random: what the measure gives when the stimuli do not
correspond — with only 92 photographs this is far from zero).
"""

PUZZLE_STANDINS = """
### The same question on stand-ins

The models below are small networks trained here for minutes on 32×32 synthetic shapes — stand-ins, not published
models.  Only they can show what the real networks cannot: two training runs of one recipe that differ in nothing
but the random seed.
"""

EXPLORER_HELP = """
Choose 2–4 models, a reference set and up to three measures.  Heatmaps show each measure between every pair of
models with a 95% confidence interval over stimuli (the jackknife, which leaves stimuli out and never repeats one,
for linear CKA and for a pair where a model has at least as many features as there are stimuli; otherwise the
percentile bootstrap).  Below them, each model's
space in 2-D (first two principal components, rotated onto the first model by orthogonal Procrustes so the panels
are comparable): **hover over a point, or lasso-select points, in one panel and the same stimuli light up in every
panel.**
"""

CROSS_HELP = """
Upload an image and/or type texts (one per line, at most 16).  For every chosen model you get its embeddings, its
image–text cosine similarities (for models with both towers), the model × model similarity over your items plus a
reference set, and how much the models disagree about each item.  Your image is resized to the reference set's
image size so that every item goes through each model identically.  Nothing you upload is kept: uploads sit in
a temporary folder that the server empties every few minutes, and no usage metric ever records them.
"""

BRAIN = """
## The 92 objects: models against human and monkey inferior temporal cortex

Kriegeskorte et al. (2008, *Neuron*) showed the same 92 photographs to humans (fMRI) and monkeys (cell recordings)
and found that inferior temporal (IT) cortex in both species groups them in a similar categorical structure
(animate vs inanimate, faces, bodies).  Representational similarity analysis (RSA; Kriegeskorte, Mur & Bandettini
2008, *Frontiers in Systems Neuroscience*) compares a model with the brain through their representational
dissimilarity matrices (RDMs).  The *noise ceiling* (Nili et al. 2014, *PLoS Computational Biology*) is the range
in which the true model's score is expected given the variability between human subjects: a model inside the band
explains as much as the data allow.  Bars: each layer of the chosen model (bootstrap 95% CIs over images for the
group RDMs); grey band: the noise ceiling; reference rows: the model RDMs and behavioural judgements distributed
with the data.
"""

THEORY_WHY = r"""
## Why convergence happens

**One world, one statistics.** Huh et al. (2024, ICML) argue that models trained to predict or contrast
observations of the same world are pushed towards a representation of the underlying reality, and name three
pressures: *task generality* (the more tasks a representation must serve, the fewer representations can serve them
all), *capacity* (bigger models are better able to find the shared optimum) and *simplicity bias* (deep networks
prefer simple functions; see also Valle-Pérez, Camargo & Louis 2019, ICLR; Shah et al. 2020, NeurIPS).

**Good models are alike.** Bansal, Nakkiran & Barak (2021, NeurIPS) found that networks trained well can be
*stitched* — the bottom of one connected to the top of another by a single learned layer — with little loss: an
"Anna Karenina" picture in which all successful models resemble each other.

**The objective pins the geometry down.** For contrastive objectives of the InfoNCE family, Zimmermann et al.
(2021, ICML) proved that, under assumptions on how the data were generated, the learned encoder inverts the
generative process up to an orthogonal transformation; Roeder, Metz & Kingma (2021, ICML) showed that a broad family
of discriminative models (including contrastive and autoregressive language models) is identifiable up to a linear
transformation.  Two models that each recover the same latent variables up to such a transformation must then be
related to each other by one — which is what CKA-like measures, invariant to rotations, detect.

**Convergence is partial.** Li et al. (2016, ICLR) found some features learned reliably by every network and others
not; Wang et al. (2018, NeurIPS) found that layers of networks trained from different initialisations rarely
share matching subspaces of neuron activations, even approximately.  Convergence of the overall geometry and
identity of individual units are different claims.

**The data lie near a low-dimensional manifold.** The *manifold hypothesis* holds that natural data such as images
concentrate near manifolds of far lower dimension than the pixel space (Bengio, Courville & Vincent 2013, *IEEE
TPAMI*; tested statistically by Fefferman, Mitter & Narayanan 2016, *Journal of the AMS*).  Pope et al. (2021,
ICLR) estimated intrinsic dimensions of tens for standard image sets, and Ansuini et al. (2019, NeurIPS) found that
the intrinsic dimension of a trained network's representation first rises, then falls to a small value in the
last layers.  If every competent model must parametrise the same few degrees of variation, their representations
have less room to differ.

**The optimisation landscape is more connected than it looks.** Minima found from different initialisations are
joined by simple curves of low loss (Garipov et al. 2018, NeurIPS; Draxler et al. 2018, ICML); Entezari et al.
(2022, ICLR) conjectured, and Ainsworth, Hayase & Srinivasa (2023, ICLR, *Git Re-Basin*) showed for several
architectures, that after permuting the hidden units of one network the straight line between two solutions has
almost no loss barrier — the permutation symmetry accounts for much of the apparent difference between seeds.
The merging application of this module measures that barrier before and after alignment.

**Compression towards what matters.** The *information bottleneck* (Tishby, Pereira & Bialek 1999, Allerton
Conference) defines an optimal representation $T$ of the input $X$ for a target $Y$ as one minimising
$I(X;T) - \beta\, I(T;Y)$: keep what predicts $Y$, discard the rest.  Tishby & Zaslavsky (2015, IEEE ITW)
proposed it as a theory of deep learning, and Shwartz-Ziv & Tishby (2017, arXiv:1703.00810) reported a compression
phase during training; Saxe et al. (2018, ICLR) found that compression depends on the nonlinearity and is not
needed for generalisation.  If it holds, models trained on the same task discard the same nuisance variation and
keep the same sufficient statistics — one more pressure towards a shared representation.
"""

THEORY_WHEN = """
## When it occurs (and when it does not)

* **Training, not architecture alone.** The puzzle's live result compares trained seeds with untrained twins; the
  table below repeats the comparison layer by layer.  Morcos, Raghu & Bengio (2018, NeurIPS) reported that networks
  which generalise converge to more similar representations than networks which memorise, and that wider networks
  converge to more similar solutions.
* **Width and depth.** Kornblith et al. (2019, ICML) found similarity between seeds rising with width;
  Nguyen, Raghu & Kornblith (2021, ICLR) found that very wide or deep networks develop a *block structure* of
  near-identical layers that is not shared across seeds.
* **Across modalities and scale.** Huh et al. (2024, ICML) measured mutual nearest-neighbour alignment between
  vision and language models and found it grows with the models' competence.
* **The measure matters.** Ding, Denain & Steinhardt (2021, NeurIPS) showed that popular measures disagree on
  which changes matter; Davari et al. (2023, ICLR) showed that CKA can be manipulated without changing a network's
  function; Klabunde et al. (2023, arXiv:2305.06329) survey the measures and their invariances.  Hence the
  baselines (untrained twins, raw inputs, shuffled pairings) and confidence intervals throughout this module.
* **Lottery tickets.** Frankle & Carbin (2019, ICLR) found sparse subnetworks that, trained from their original
  initial weights, match the full network; Frankle et al. (2020, ICML) showed that at scale this holds only once the
  network has become *stable to SGD noise* (two copies trained from the same early checkpoint end up linearly mode
  connected), which happens early in training.  Morcos et al. (2019, NeurIPS) found winning tickets that transfer
  across data sets and optimisers.  Where the solution is settled early, later training refines one basin rather
  than choosing among many.
* **Data set size.** Nguyen, Raghu & Kornblith (2021, ICLR) found that the non-shared block structure appears when
  a model's capacity is large relative to its training set: less data, less agreement between seeds.  Scaling
  laws (Kaplan et al. 2020, arXiv:2001.08361) make loss a smooth function of data and model size, and Huh et al.
  (2024, ICML) report cross-model alignment rising with model scale and performance — convergence is a
  large-data, competent-model phenomenon.
"""

THEORY_NEURO = """
## Neuroscience parallels

* **The same question, asked of brains.** RSA was introduced to compare brains, models and behaviour through
  their dissimilarity structure (Kriegeskorte, Mur & Bandettini 2008, *Frontiers in Systems Neuroscience*); on the
  92 objects, human and monkey IT share a categorical geometry (Kriegeskorte et al. 2008, *Neuron*).
* **Task-optimised networks resemble the ventral stream.** Networks optimised for object recognition predict IT
  responses (Yamins et al. 2014, *PNAS*); supervised deep networks, unlike the unsupervised models tested,
  explained IT geometry (Khaligh-Razavi & Kriegeskorte 2014, *PLoS Computational Biology*); layers map onto the
  visual hierarchy in order (Güçlü & van Gerven 2015, *Journal of Neuroscience*; Cichy et al. 2016, *Scientific
  Reports*).
* **Many networks, similar fits.** Storrs et al. (2021, *Journal of Cognitive Neuroscience*) found that diverse
  deep networks predict human IT about equally well once trained and fitted — convergence seen from the brain's
  side.  Benchmarks such as Brain-Score (Schrimpf et al. 2020, *Neuron*) rank models on many such data sets.
* **How much can be explained.** The noise ceiling (Nili et al. 2014, *PLoS Computational Biology*) bounds the
  score a model can reach given between-subject variability.  Sucholutsky et al. (2023, arXiv:2310.13018) frame
  model–model, model–brain and brain–brain comparisons as one problem of *representational alignment*.
* **The hierarchy V1 → V2 → V4 → IT.** Hubel & Wiesel (1962, *Journal of Physiology*) found oriented, local
  receptive fields in V1; Felleman & Van Essen (1991, *Cerebral Cortex*) mapped the areas of the macaque visual
  cortex into a hierarchy; V4 neurons encode contour curvature (Pasupathy & Connor 2002, *Nature Neuroscience*);
  IT represents objects in a form from which their category can be read out linearly (DiCarlo, Zoccolan & Rust
  2012, *Neuron*: the ventral stream "untangles" object manifolds).  In task-trained networks the intermediate
  layers predict V4 best and the top layers IT (Yamins et al. 2014, *PNAS*); early layers resemble V1-like Gabor
  filters (Krizhevsky, Sutskever & Hinton 2012, NeurIPS, their Figure 3).
* **Efficient coding.** Barlow (1961, in *Sensory Communication*, MIT Press) proposed that sensory neurons remove
  redundancy from their input.  Learning a sparse code for natural image patches yields V1-like oriented,
  localised, band-pass filters (Olshausen & Field 1996, *Nature*); Simoncelli & Olshausen (2001, *Annual Review of
  Neuroscience*) review how natural-image statistics predict early visual coding.  A shared input distribution and
  a shared coding principle give brains and networks a shared reason to converge.
* **Energy constraints.** Spikes are metabolically expensive (Laughlin, de Ruyter van Steveninck & Anderson 1998,
  *Nature Neuroscience*; Attwell & Laughlin 2001, *Journal of Cerebral Blood Flow & Metabolism*); Lennie (2003,
  *Current Biology*) estimated that only a small fraction of cortical neurons can be strongly active at once.  The
  brain is pushed towards sparse codes, which networks reach only through regularisation or architecture — one
  reason brain-likeness and task performance need not rise together.
"""

THEORY_MATH = r"""
## The mathematical framework

Rows of $X \in \mathbb{R}^{n\times d_1}$ and $Y \in \mathbb{R}^{n\times d_2}$ are two models' representations of the
same $n$ stimuli; $H = I - \tfrac{1}{n}\mathbf{1}\mathbf{1}^\top$ centres them.

**Centred kernel alignment** (Kornblith et al. 2019, ICML), built on the Hilbert–Schmidt independence criterion
(Gretton et al. 2005, ALT), with Gram matrices $K = XX^\top$, $L = YY^\top$:

$$\mathrm{HSIC}(K, L) = \frac{\operatorname{tr}(KHLH)}{(n-1)^2}, \qquad
\mathrm{CKA}(K, L) = \frac{\mathrm{HSIC}(K, L)}{\sqrt{\mathrm{HSIC}(K, K)\,\mathrm{HSIC}(L, L)}}$$

For linear kernels and centred $X, Y$ this is
$\mathrm{CKA} = \lVert Y^\top X \rVert_F^2 / (\lVert X^\top X \rVert_F \lVert Y^\top Y \rVert_F)$: invariant to
rotations and isotropic scaling of either representation, but not to arbitrary invertible linear maps.

**Representational similarity analysis** (Kriegeskorte, Mur & Bandettini 2008): each model's representational
dissimilarity matrix $D_{ij} = 1 - \operatorname{corr}(x_i, x_j)$, compared by the Spearman correlation of the
upper triangles, $\rho_S(\operatorname{vec}(D^X), \operatorname{vec}(D^Y))$.

**Linear predictability** (the encoding-model practice of neuroscience; Naselaris et al. 2011, *NeuroImage*): how
well $Y$ is predicted from $X$ by ridge regression, scored by cross-validated $R^2$,

$$\hat W = \arg\min_W \lVert Y - XW \rVert_F^2 + \lambda \lVert W \rVert_F^2, \qquad
R^2 = 1 - \frac{\sum_i \lVert y_i - \hat W^\top x_i \rVert^2}{\sum_i \lVert y_i - \bar y \rVert^2}$$

— asymmetric: $X$ may predict $Y$ without $Y$ predicting $X$.

**The contrastive objective.** An image tower $f$ and a text tower $g$ map a batch of $N$ matched pairs to unit
vectors; with $s_{ij} = f(x_i)^\top g(t_j)$ and temperature $\tau$, the symmetric InfoNCE loss (van den Oord, Li &
Vinyals 2018, arXiv:1807.03748; used by CLIP, Radford et al. 2021, ICML) is

$$\mathcal{L} = -\frac{1}{2N} \sum_{i=1}^{N} \left[ \log \frac{e^{s_{ii}/\tau}}{\sum_{j} e^{s_{ij}/\tau}}
+ \log \frac{e^{s_{ii}/\tau}}{\sum_{j} e^{s_{ji}/\tau}} \right]$$

It pulls matched pairs together (*alignment*) and spreads all embeddings over the sphere (*uniformity*; Wang &
Isola 2020, ICML).  SigLIP replaces the softmax by a pairwise sigmoid loss (Zhai et al. 2023, ICCV).

**Identifiability.** If observations are generated as $x = h(z)$ from latent variables $z$, contrastive learning
recovers $z$ up to an orthogonal map under the assumptions of Zimmermann et al. (2021, ICML):
$f(h(z)) = Qz$.  Roeder, Metz & Kingma (2021, ICML) prove identifiability up to a linear map,
$f_\theta(x) = A f_{\theta'}(x)$, for a broad class of discriminative models; Daunhawer et al. (2023, ICLR) show
that multimodal contrastive learning identifies the latent factors shared by the two modalities.  Then two such
models satisfy $f_1(x) = A_{12} f_2(x)$.  Which measures see through such a map differs: CCA through any invertible
linear map, linear CKA and Procrustes only through rotations and isotropic scaling (the table below measures it).

**Proof sketch: identifiability up to an orthogonal map** (Zimmermann et al. 2021, ICML, Theorem 2).  Assume
latents $z$ uniform on the unit sphere, positive pairs $\tilde z \mid z \sim$ von Mises–Fisher with concentration
$\kappa$, an injective generator $x = g(z)$, and an encoder $f$ with unit-norm outputs; write $h = f \circ g$.
(1) With infinitely many negatives the InfoNCE loss equals, up to constants, the cross-entropy between the true
conditional $p(\tilde z \mid z) \propto e^{\kappa z^\top \tilde z}$ and the model's
$q_h(\tilde z \mid z) \propto e^{h(z)^\top h(\tilde z)/\tau}$, minus the entropy of the latent distribution.
(2) The cross-entropy is minimal exactly when $q_h = p$, which forces $h(z)^\top h(\tilde z) / \tau =
\kappa\, z^\top \tilde z$ for all pairs: $h$ preserves inner products on the sphere (with $\tau = 1/\kappa$).
(3) A map of the sphere onto itself that preserves inner products is linear and orthogonal: $h(z) = Qz$.
Hence every minimiser satisfies $f(x) = Q\, g^{-1}(x)$, and two minimisers $f_1, f_2$ satisfy
$f_1(x) = Q_1 Q_2^\top f_2(x)$: they agree up to an orthogonal map, to which linear CKA and Procrustes are blind —
so on any stimulus set their linear CKA is exactly 1.  Roeder, Metz & Kingma (2021, ICML) reach a linear map $A$
by a different route: if $p(y \mid x) \propto e^{f(x)^\top g(y)}$ and $e^{f'(x)^\top g'(y)}$ define the same
conditional, the log-ratios of two labels $y, y_0$ agree, $(g(y) - g(y_0))^\top f(x) = (g'(y) - g'(y_0))^\top
f'(x)$; stacking $d$ labels whose differences span $\mathbb{R}^d$ (their diversity condition) into invertible
matrices $L, L'$ gives $f(x) = (L^\top)^{-1} L'^\top f'(x) = A f'(x)$.

**Proof sketch: what linear CKA is invariant to** (Kornblith et al. 2019, ICML, Section 3).  Linear CKA depends on
$X$ only through the centred Gram matrix $K = HXX^\top H$.  *Rotation:* for orthogonal $Q$,
$(XQ)(XQ)^\top = XQQ^\top X^\top = XX^\top$, so $K$ and CKA are unchanged.  *Isotropic scaling:* $cX$ gives $c^2K$;
HSIC is bilinear, so $c^2$ cancels between numerator and denominator.  *Translation:* $X + \mathbf{1}b^\top$ has
$H(X + \mathbf{1}b^\top) = HX$ because $H\mathbf{1} = 0$.  *Not invertible linear maps:* take centred $X$ with
$X^\top X = I_2$ and $A = \operatorname{diag}(1, \varepsilon)$; then
$\mathrm{CKA}(X, XA) = \lVert A \rVert_F^2 / (\lVert I \rVert_F \lVert A^\top A \rVert_F) =
(1 + \varepsilon^2) / (\sqrt{2}\sqrt{1 + \varepsilon^4}) \to 1/\sqrt{2}$ as $\varepsilon \to 0$, although $XA$
carries the same information as $X$ for every $\varepsilon > 0$.  Kornblith et al. argue this is desirable: a
measure invariant to all invertible maps (like CCA) cannot tell apart any two representations of $n \le d$
stimuli in general position.

**Mutual nearest neighbours** (Huh et al. 2024, ICML): the mean over stimuli of
$\lvert \mathcal{N}_k^X(i) \cap \mathcal{N}_k^Y(i) \rvert / k$, the overlap of each stimulus's $k$ nearest
neighbours in the two spaces — local rather than global geometry.
"""

APPLICATIONS = {
    "stitching": """
### Stitching
If two networks represent inputs alike up to a simple map, the bottom of one can feed the top of the other through
a single learned layer (Lenc & Vedaldi 2015, CVPR; Bansal, Nakkiran & Barak 2021, NeurIPS; Csiszárik et al. 2021,
NeurIPS).  Choose two digits classifiers (their training seeds), a cut layer and how the linear stitching layer
is fitted (least squares onto B's activations, or trained on the task); *penalty* = test accuracy of model B minus
that of the stitched model, and the same with a **random** (untrained) bottom as the control — a stitch that works
for random features would prove nothing.
""",
    "merging": """
### Merging
Two networks trained from different seeds usually cannot be averaged weight by weight: the loss rises in between
(a *barrier*).  Many such barriers disappear once the hidden units of one network are permuted to match the other
(Entezari et al. 2022, ICLR; Ainsworth, Hayase & Srinivasa 2023, ICLR, "Git Re-Basin"); when they do, the two models
are *linearly mode connected* (Frankle et al. 2020, ICML).  Choose a merging method — a uniform (weighted) soup
(Wortsman et al. 2022, ICML), task arithmetic (Ilharco et al. 2023, ICLR), TIES (Yadav et al. 2023, NeurIPS),
Fisher-weighted averaging (Matena & Raffel 2022, NeurIPS) or SLERP — whether to align the two models first, and
the weight on model B: the curve is the merged model's test accuracy for every weight (the task-vector methods
take model A's random initialisation as their base, since the two models share no pre-trained ancestor).
""",
    "transfer": """
### Transfer and reuse
When two spaces agree up to a linear map, a few shared *anchor* inputs are enough to fit the map, and a classifier
trained on one model can be reused on the other (relative representations, Moschella et al. 2023, ICLR; model
stitching for reuse, Bansal et al. 2021).  Choose the map (least squares, ridge, scaled orthogonal Procrustes, or
relative representations) and the number of anchors: a probe trained on model B's features classifies model A's
features mapped into B's space; *b on b* is the probe on its own model, *no map* the probe applied without any
map.
""",
    "development": """
### Development benefits and open questions
*Benefits.* Convergence is what makes it possible to swap one encoder for another behind a fixed head, to merge
fine-tuned models (model soups, Wortsman et al. 2022, ICML; task arithmetic, Ilharco et al. 2023, ICLR), and to
distil a large teacher into a small student (Hinton, Vinyals & Dean 2015, arXiv:1503.02531).  The live table:
linear CKA between a teacher and a student before training, after independent training, and after distillation
from the teacher's outputs alone.

*Open questions.* Which measure should decide "the same representation" (Ding et al. 2021, NeurIPS; Klabunde et
al. 2023)?  Does convergence continue with scale, or stop at a modality-specific limit (Huh et al. 2024, ICML)?
Which features are idiosyncratic, and do they matter for robustness or safety?  The zoo models here let you test
such questions at small scale; none of the numbers on this page should be read as a claim about large models.
""",
}

EDU_INTRO = """
# How one image–text model works

Models like **CLIP** (Radford et al. 2021, ICML) learn from pairs of images and captions.  They power image search,
"zero-shot" classification and alt-text suggestions.  On this page you can try such a model — the one named just
below: the real CLIP when a CLIP checkpoint is installed, otherwise a small **stand-in** with CLIP's design trained
here on synthetic shapes, which is *not* CLIP — look inside it, and see what it gets wrong.  Everything runs on
this computer; nothing you upload is kept (uploads sit in a temporary folder that
the server empties every few minutes).
"""

EDU_HOW = r"""
## Two towers, one shared space

CLIP has two separate networks ("towers"): an **image encoder** $f$ and a **text encoder** $g$.  Each turns its input
into a list of numbers — a vector — of the same length, scaled to length 1.  Training pushes the vector of an image
close to the vector of *its* caption and away from the other captions in the batch.  Closeness is measured by the
**cosine similarity** $s = f(\text{image})^\top g(\text{caption})$, between $-1$ and $1$.

**The contrastive objective** (van den Oord, Li & Vinyals 2018; Radford et al. 2021).  For a batch of $N$ pairs, the
model is asked to pick the right caption for each image, and the right image for each caption:

$$\mathcal{L} = -\frac{1}{2N} \sum_{i=1}^{N} \left[ \log \frac{e^{s_{ii}/\tau}}{\sum_{j} e^{s_{ij}/\tau}}
+ \log \frac{e^{s_{ii}/\tau}}{\sum_{j} e^{s_{ji}/\tau}} \right]$$

The **temperature** $\tau$ sets how sharp the choice is; CLIP learns it, starting from $\tau = 0.07$ and capping the
scale $1/\tau$ at 100 (Radford et al. 2021).

**Zero-shot classification** is the same computation at test time: write one caption per class ("a photo of a
dog", "a photo of a cat"), and turn the cosines into probabilities with the softmax
$p_j = e^{s_j/\tau} / \sum_k e^{s_k/\tau}$.  Radford et al. (2021) found the wording of these captions ("prompts")
matters.

The picture below shows a batch of images (●) and their captions (✕) before and after training: training pulls
each image towards its own caption.
"""

EDU_EXPLAIN = """
## Why does the model match this image with this caption?

Two simple, model-agnostic probes, computed live:

* **Which image regions matter** — *occlusion* (Zeiler & Fergus 2014, ECCV): cover one patch at a time with the
  image's average colour and measure how much the image–caption similarity drops.  Red patches support the match;
  blue ones work against it.
* **Which words matter** — *leave one word out* (Li, Monroe & Jurafsky 2016, arXiv:1612.08220): remove one word at a
  time and measure the drop.

Such maps are approximations: they show what changes the score, not how the model "reasons", and saliency methods
can look plausible while being insensitive to the model (Adebayo et al. 2018, NeurIPS).
"""

EDU_ETHICS = """
## What such models get wrong, and whom it harms

* **Social bias.** The CLIP authors' own audit found that the model assigned crime-related and non-human labels to
  images of people at rates that differed by race, gender and age (Radford et al. 2021, ICML, §7; Agarwal et al.
  2021, arXiv:2108.02818).  CLIP associates "American" with White people (Wolfe & Caliskan 2022, AIES).
* **The training data.** Web-scale image–text data sets contain misogynistic, pornographic and stereotyping
  content that models can absorb (Birhane, Prabhu & Kahembwe 2021, arXiv:2110.01963).
* **Uneven accuracy.** Commercial gender classifiers erred most on darker-skinned women (Buolamwini & Gebru 2018,
  FAT*); object recognisers were less accurate on photos from lower-income households and several world regions
  (de Vries et al. 2019, CVPR Workshops).
* **Reading instead of seeing.** CLIP can be fooled by text written in an image — a "typographic attack" (Goh et
  al. 2021, *Distill*).
* **Accessibility is not solved.** Blind and low-vision people tend to trust automatic captions even when they are
  wrong (MacLeod et al. 2017, CHI); photos taken by blind people are often blurred or badly framed and harder for
  models (Gurari et al. 2018, CVPR); and whether and how to describe people's race, gender or disability is
  contested, with screen-reader users' preferences depending on context (Bennett et al. 2021, CHI).

**Good practice:** treat the suggestions below as drafts for a human to check; document what a model was trained
on and where it fails (model cards, Mitchell et al. 2019, FAT*); and write alt text following WCAG's success
criterion 1.1.1, *non-text content* (W3C, WCAG 2.1, 2018).
"""

ALT_HELP = """
### An accessibility aid: alt-text suggestions
Upload an image: the model ranks the captions of a caption bank (the shapes world, the 92 objects, the digits) by
similarity and proposes the closest ones as alternative text.  Retrieval can only return captions that exist in the
bank, so check and edit the suggestion before you use it.
"""

READY_FOR_MORE = """
## Ready for more?
You have seen how **one** model arranges images and captions.  The research module asks whether **different**
models — different seeds, architectures, objectives, even brains — end up with the same arrangement, and why.
"""
