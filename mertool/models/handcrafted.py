"""The classic hand-crafted baselines: features of :mod:`mertool.features` + a linear SVM.

``lbp-top-svm``  LBP-TOP (Zhao & Pietikäinen 2007) of the ``clip`` input (T gray frames onset ->
                 offset, T = ``frames``), 5 x 5 blocks, u2 patterns, P = 8, R = 1: 4425 values.
``bi-woof-svm``  Bi-WOOF (Liong et al. 2018) of the ``flow`` input (u, v, strain onset -> apex),
                 5 x 5 blocks, 8 orientation bins: 200 values.
``hoof-svm``     HOOF per block of the ``flow`` input (u, v), 5 x 5 blocks x 8 bins; with
                 ``variant=mdmo`` the main-direction mean flow per block instead (50 values).

Each model is an ordinary :class:`~mertool.models.base.MERModel`: ``forward`` turns its input
tensor into numpy, computes one feature vector per sample, standardises it with the training
features' mean and standard deviation (buffers) and returns ``logits`` = the SVM's decision
values from an ``nn.Linear`` holding the SVM's weights. So model files, ``predict`` and
``eval-loso`` treat it like any network. What differs is training:
:func:`mertool.training.trainer.train_on_rows` sees :meth:`HandcraftedSVM.fit_arrays` and calls it
instead of the SGD loop: scikit-learn's :class:`~sklearn.svm.LinearSVC` (liblinear, one-vs-rest,
squared hinge, L2 penalty ``C``) fitted once on every training row, no epochs, augmentation or
model selection (nothing to select: the validation split is not drawn).

**Raw scale.** The features need physical inputs: flow in pixels (orientation and magnitude),
strain as computed, gray levels for LBP. The trainer therefore gives these models raw-scale
inputs (normalisation ``none``, whatever ``--norm`` says) and records that in the model file, so
``predict`` feeds raw inputs too; the standardisation happens on the *features*, inside the model.
The ``clip`` input arrives as gray levels in 0..1 and is quantised back to the stored 0..255
integers (exact unless ``--input-size`` resampled the frames) before LBP.

``class_weight=balanced`` (default) weights each class by the inverse of its training frequency:
the metrics are unweighted (UF1, UAR) and MER sets are imbalanced (MEGC2019: 250 of 442 clips
negative). ``none`` is the plain SVM. Decision values are logits: ``probs`` are their softmax,
which ranks like the SVM but is not calibrated.

Features are cached per process by the bytes of the input and the feature options, so the many
folds of a LOSO run compute each sample's features once.
"""

from __future__ import annotations

import abc
import hashlib
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from torch import nn

from mertool.errors import MertoolError
from mertool.models.base import MERModel, require
from mertool.models.registry import CLIP_FRAMES, Option, clip_input_name, model_builder, register_model

CLASS_WEIGHTS = ("balanced", "none")
#: Logit of a class the training rows did not contain (never predicted).
ABSENT_LOGIT = -1.0e4

_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
_CACHE_BYTES = 256 * 2**20
_cache_used = 0


def _cached(key: tuple, compute) -> np.ndarray:
    global _cache_used
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = compute()
    _CACHE[key] = value
    _cache_used += value.nbytes
    while _cache_used > _CACHE_BYTES and len(_CACHE) > 1:
        _, old = _CACHE.popitem(last=False)
        _cache_used -= old.nbytes
    return value


class HandcraftedSVM(MERModel):
    """Features of one input + standardisation + linear SVM (module docstring).

    Subclasses set :attr:`input_name` (via the constructor), :attr:`feature_dim` and implement
    :meth:`sample_features` (one sample's input as numpy -> (feature_dim,) float64).
    """

    #: the trainer fits these in closed form on raw-scale inputs (mertool.training.trainer)
    closed_form = True

    def __init__(self, num_classes: int, input_name: str, feature_dim: int, C: float, class_weight: str):
        super().__init__()
        if class_weight not in CLASS_WEIGHTS:
            raise MertoolError(
                f"unknown class_weight {class_weight!r}", hint=f"one of: {', '.join(CLASS_WEIGHTS)}"
            )
        if not float(C) > 0:
            raise MertoolError(f"the SVM's C must be positive, got {C}")
        self.input_names = (input_name,)
        self.input_name = input_name
        self.feature_dim = int(feature_dim)
        self.num_classes = int(num_classes)
        self.C = float(C)
        self.class_weight = class_weight
        self.register_buffer("feature_mean", torch.zeros(self.feature_dim, dtype=torch.float64))
        self.register_buffer("feature_scale", torch.ones(self.feature_dim, dtype=torch.float64))
        self.svm = nn.Linear(self.feature_dim, self.num_classes)
        nn.init.zeros_(self.svm.weight)
        nn.init.zeros_(self.svm.bias)

    # -- features
    @abc.abstractmethod
    def feature_key(self) -> tuple:
        """What decides the features besides the input (the cache key's first part)."""

    @abc.abstractmethod
    def sample_features(self, x: np.ndarray) -> np.ndarray:
        """One sample's raw-scale input -> its feature vector (D,) float."""

    def features(self, batch: np.ndarray) -> np.ndarray:
        """(N, ...) raw-scale inputs -> (N, feature_dim) float64, cached per sample."""
        batch = np.ascontiguousarray(batch)
        rows = []
        for x in batch:
            key = (type(self).__name__, self.feature_key(), x.shape, hashlib.sha1(x.tobytes()).hexdigest())
            rows.append(_cached(key, lambda x=x: self.sample_features(x)))
        if not rows:
            return np.zeros((0, self.feature_dim))
        out = np.stack(rows)
        if out.shape[1] != self.feature_dim:
            raise MertoolError(
                f"{type(self).__name__}: got {out.shape[1]} features, expected {self.feature_dim}"
            )
        return out

    def _standardised(self, feats: np.ndarray) -> torch.Tensor:
        mean = self.feature_mean.detach().cpu().numpy()
        scale = self.feature_scale.detach().cpu().numpy()
        return torch.from_numpy(((feats - mean) / scale).astype(np.float32))

    # -- the contract
    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        x = require(inputs, self.input_name)
        if torch.jit.is_tracing():  # a trace would freeze the first input's features as constants
            raise MertoolError(
                f"{type(self).__name__} computes its features in numpy: it cannot be traced (jit, onnx)",
                hint="use the eager (or channels_last) backend",
            )
        if x.device.type == "meta":  # shapes only (mertool models list): the linear layer alone
            z = torch.zeros(x.shape[0], self.feature_dim, device="meta", dtype=self.svm.weight.dtype)
            return {"logits": self.svm(z)}
        feats = self.features(x.detach().cpu().numpy())
        z = self._standardised(feats).to(device=self.svm.weight.device, dtype=self.svm.weight.dtype)
        return {"logits": self.svm(z)}

    def fit_arrays(self, inputs: dict[str, np.ndarray], labels: np.ndarray, seed: int) -> dict[str, Any]:
        """Fit the standardisation and the SVM in closed form on raw-scale training inputs.

        Args:
            inputs: input name -> (N, ...) float32, raw scale (what the data loader builds).
            labels: (N,) int64 class indices in ``0..num_classes-1``.
            seed: LinearSVC's ``random_state`` (its coordinate-descent order).

        Returns:
            a one-epoch training record (``epoch``, ``train_loss`` = cross-entropy of the softmax
            of the decision values, ``train_acc``, and what was fitted).
        """
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import LinearSVC

        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) == 0:
            raise MertoolError("no training samples to fit the SVM on")
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise MertoolError(f"labels must be class indices 0..{self.num_classes - 1}")
        feats = self.features(require_array(inputs, self.input_name))
        mean = feats.mean(axis=0)
        scale = feats.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)  # a constant feature: centred only
        z = (feats - mean) / scale
        present = np.unique(labels)
        weight = np.zeros((self.num_classes, self.feature_dim))
        bias = np.full(self.num_classes, ABSENT_LOGIT)
        converged = True
        if len(present) == 1:
            bias[present[0]] = 0.0  # one class seen: always that class
        else:
            svm = LinearSVC(
                C=self.C,
                class_weight="balanced" if self.class_weight == "balanced" else None,
                dual="auto",
                max_iter=20000,
                random_state=int(seed) % (2**32),
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                svm.fit(z, labels)
            converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
            coef, intercept = svm.coef_, svm.intercept_
            if len(present) == 2:  # liblinear gives one hyperplane: +w for the second class
                coef = np.vstack([-coef[0], coef[0]])
                intercept = np.array([-intercept[0], intercept[0]])
            weight[svm.classes_] = coef
            bias[svm.classes_] = intercept
        with torch.no_grad():
            self.feature_mean.copy_(torch.from_numpy(mean))
            self.feature_scale.copy_(torch.from_numpy(scale))
            self.svm.weight.copy_(torch.from_numpy(weight))
            self.svm.bias.copy_(torch.from_numpy(bias))
            logits = self.svm(self._standardised(feats).to(self.svm.weight.device)).double().cpu()
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)).item()
        acc = float((logits.argmax(1).numpy() == labels).mean())
        return {
            "epoch": 1,
            "train_loss": float(loss),
            "train_acc": acc,
            "fitted": "LinearSVC",
            "C": self.C,
            "class_weight": self.class_weight,
            "features": self.feature_dim,
            "classes_seen": [int(c) for c in present],
            "converged": converged,
        }


def require_array(inputs: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in inputs:
        raise MertoolError(
            f"the model needs input {name!r}, got {', '.join(sorted(inputs)) or 'none'}",
            hint="build the inputs the model declares (mertool models list shows them)",
        )
    return np.asarray(inputs[name])


def _flow_maps(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``flow`` input of one sample, (3, H, W) u, v, strain -> flow (H, W, 2), strain (H, W)."""
    if x.ndim != 3 or x.shape[0] != 3:
        raise MertoolError(f"the flow input must be (3, H, W) = u, v, strain per sample, got {x.shape}")
    return np.ascontiguousarray(x[:2].transpose(1, 2, 0), dtype=np.float64), np.asarray(x[2], np.float64)


class LbpTopSVM(HandcraftedSVM):
    def __init__(
        self,
        num_classes: int,
        frames: int = CLIP_FRAMES,
        blocks: int = 5,
        points: int = 8,
        radius: float = 1.0,
        method: str = "nri_uniform",
        C: float = 1.0,
        class_weight: str = "balanced",
    ):
        import math

        from mertool.features.lbp_top import feature_length

        if int(frames) < 2 * math.ceil(radius) + 1:
            raise MertoolError(
                f"LBP-TOP with radius {radius} needs at least {2 * math.ceil(radius) + 1} frames, got frames={frames}",
                hint="raise --opt frames or lower --opt radius",
            )
        self.opts = (int(blocks), int(points), float(radius), method)
        super().__init__(
            num_classes, clip_input_name(frames), feature_length(blocks, points, method), C, class_weight
        )

    def feature_key(self) -> tuple:
        return self.opts

    def sample_features(self, x: np.ndarray) -> np.ndarray:
        from mertool.features.lbp_top import lbp_top

        if x.ndim != 3:
            raise MertoolError(f"the clip input must be (T, H, W) gray per sample, got {x.shape}")
        gray = np.clip(np.rint(np.asarray(x, np.float64) * 255.0), 0, 255).astype(np.uint8)
        blocks, points, radius, method = self.opts
        return lbp_top(gray, blocks, points, radius, method)


class BiWoofSVM(HandcraftedSVM):
    def __init__(
        self, num_classes: int, blocks: int = 5, bins: int = 8, C: float = 1.0, class_weight: str = "balanced"
    ):
        from mertool.features.bi_woof import feature_length

        self.opts = (int(blocks), int(bins))
        super().__init__(num_classes, "flow", feature_length(blocks, bins), C, class_weight)

    def feature_key(self) -> tuple:
        return self.opts

    def sample_features(self, x: np.ndarray) -> np.ndarray:
        from mertool.features.bi_woof import bi_woof

        flow, strain = _flow_maps(x)
        return bi_woof(flow, strain, *self.opts)


class HoofSVM(HandcraftedSVM):
    def __init__(
        self,
        num_classes: int,
        variant: str = "hoof",
        blocks: int = 5,
        bins: int = 8,
        C: float = 1.0,
        class_weight: str = "balanced",
    ):
        from mertool.features.hoof import VARIANTS, feature_length

        if variant not in VARIANTS:
            raise MertoolError(f"unknown HOOF variant {variant!r}", hint=f"one of: {', '.join(VARIANTS)}")
        self.opts = (variant, int(blocks), int(bins))
        super().__init__(num_classes, "flow", feature_length(blocks, bins, variant), C, class_weight)

    def feature_key(self) -> tuple:
        return self.opts

    def sample_features(self, x: np.ndarray) -> np.ndarray:
        from mertool.features.hoof import hoof, mdmo

        flow, _ = _flow_maps(x)
        variant, blocks, bins = self.opts
        return hoof(flow, blocks, bins) if variant == "hoof" else mdmo(flow, blocks, bins)


_SVM_OPTIONS = {
    "C": Option(1.0, "the linear SVM's penalty C (LinearSVC, features standardised)"),
    "class_weight": Option(
        "balanced", "SVM class weights: balanced (inverse training frequency) or none", CLASS_WEIGHTS
    ),
}
_BLOCKS = Option(5, "block grid: K x K blocks over the face")
_BINS = Option(8, "orientation bins over [-pi, pi)")


def _baseline(name: str, inputs: Any, description: str, cls: type, **options: Option) -> None:
    """Register a hand-crafted baseline: ``cls`` at 128 px (paper 004's Table 2 rows), its own
    options plus the SVM's."""
    register_model(name, inputs, 128, "004", f"{description} + linear SVM; a hand-crafted baseline",
                   {**options, **_SVM_OPTIONS})(model_builder(cls))  # fmt: skip


_LBP_METHOD = Option(
    "nri_uniform",
    "LBP codes: nri_uniform (u2, 59 bins at P=8, as Zhao & Pietikäinen) or uniform (riu2, P+2)",
    ("nri_uniform", "uniform"),
)
_HOOF_VARIANT = Option(
    "hoof",
    "hoof: orientation histogram per block; mdmo: main-direction mean flow per block",
    ("hoof", "mdmo"),
)
_baseline(
    "lbp-top-svm",
    lambda o: (clip_input_name(o["frames"]),),
    "LBP-TOP (Zhao & Pietikäinen 2007) of the clip onset->offset",
    LbpTopSVM,
    frames=Option(CLIP_FRAMES, "frames T of the clip volume, resampled evenly from onset to offset"),
    blocks=_BLOCKS,
    points=Option(8, "LBP neighbours P on each plane"),
    radius=Option(1.0, "LBP radius R (the same along X, Y and T)"),
    method=_LBP_METHOD,
)
_baseline(
    "bi-woof-svm",
    ("flow",),
    "Bi-WOOF (Liong et al. 2018): strain- and magnitude-weighted flow orientations",
    BiWoofSVM,
    blocks=_BLOCKS,
    bins=_BINS,
)
_baseline(
    "hoof-svm",
    ("flow",),
    "HOOF (magnitude-weighted flow orientations per block) or MDMO",
    HoofSVM,
    variant=_HOOF_VARIANT,
    blocks=_BLOCKS,
    bins=_BINS,
)
