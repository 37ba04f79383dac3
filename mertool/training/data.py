"""Model inputs from a sample file: the arrays a model declares, labels, and normalisation.

:func:`load_table` reads a sample file once into memory (:class:`SampleTable`): for every usable
sample the inputs the model declares (:meth:`mertool.models.registry.ModelSpec.input_names`),
built from the schema arrays as the registry's table says, resized to the requested size, in
their *raw* scale (images and ``diff`` in 0..1, flow in pixels of the resized image, strain as
stored). Samples that failed an earlier stage, that have no label under the chosen label map, or
that lack an array the model needs are skipped and listed with the reason.

:class:`Normalizer` holds the per-channel mean/std of every input, computed on the *training*
samples of a fold only (per dataset by default, paper 004: "the dataset's mean and standard
deviation"; a dataset absent from training falls back to the statistics over all training
samples). It is stored in the model file so prediction normalises the same way.

:class:`BatchSet` is the torch ``Dataset`` the training loop iterates: indexed by a *list* of
rows it returns a whole batch (dict of tensors, labels, rows), so a ``DataLoader`` with a
``BatchSampler`` and ``batch_size=None`` avoids per-sample collation.

Array shapes (float32): image-like inputs (N, C, H, W); region sets ``rois15``/``au5``
(N, R, C, h, w) with h = 0.4 H for ``au5`` and H / 4 for ``rois15`` (the zoo's convention,
:func:`region_size`). ``C`` is 3 for ``flow`` (u, v, strain) and ``frames3``; for ``apex``, ``onset``,
``diff``, ``face`` and the region sets it is the stored colour (3 RGB, 1 gray) unless
``channels`` asks for 1 or 3. The ``clip`` input (and ``clip<T>``) is (N, T, H, W): T gray frames in
0..1 resampled from onset to offset (:func:`clip_volume`), read from the aligned ``frames``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError, StoreError
from mertool.models.inputs import (  # noqa: F401 (FLOW_INPUTS etc. are read from here too)
    CROP_INPUTS,
    FLOW_INPUTS,
    IMAGE_INPUTS,
    REGION_INPUTS,
    clip_input_frames,
    is_clip_input,
    required_stage,
)
from mertool.store import SampleFile, SampleRecord
from mertool.store import schema as S

# ------------------------------------------------------------------------------------------------
# building one input from one record (pure functions on arrays)


def _to_chw(img: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) -> (C, H, W) float32 (no rescaling)."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)


def _gray(img: np.ndarray) -> np.ndarray:
    """(H, W[, 3]) -> (H, W) with ITU-R 601 luma weights (gray stays as is)."""
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 2:
        return img
    if img.shape[-1] == 1:
        return img[..., 0]
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def _set_channels(x: np.ndarray, channels: int | None, axis: int = 0) -> np.ndarray:
    """Make the channel axis hold ``channels`` (1: luma, 3: gray repeated); None keeps it."""
    c = x.shape[axis]
    if channels is None or c == channels:
        return x
    if channels == 1 and c == 3:
        w = np.array([0.299, 0.587, 0.114], dtype=np.float32).reshape(
            [-1 if i == axis else 1 for i in range(x.ndim)]
        )
        return (x * w).sum(axis=axis, keepdims=True).astype(np.float32)
    if channels == 3 and c == 1:
        return np.repeat(x, 3, axis=axis)
    raise ValueError(f"cannot turn {c} channels into {channels}")


def resize_chw(x: np.ndarray, size: tuple[int, int], is_flow: bool = False) -> np.ndarray:
    """Resize (C, H, W) float32 to (C, h, w); for ``is_flow`` channels 0/1 (u, v in pixels) are
    scaled by the size ratio so they stay in pixels of the new image (channel 2, the strain, is
    a ratio of displacements to distances and stays as is)."""
    import cv2

    h, w = size
    c, H, W = x.shape
    if (H, W) == (h, w):
        return x
    interp = cv2.INTER_AREA if (h < H and w < W) else cv2.INTER_LINEAR
    out = cv2.resize(np.ascontiguousarray(x.transpose(1, 2, 0)), (w, h), interpolation=interp)
    if out.ndim == 2:
        out = out[:, :, None]
    out = np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)
    if is_flow:
        out[0] *= w / W
        out[1] *= h / H
    return out


def _crop_index(rec: SampleRecord, role: str, k: int) -> int:
    roles = rec.get(S.A_CROP_FRAMES)
    if isinstance(roles, str):
        roles = [roles]
    if roles and role in roles:
        return list(roles).index(role)
    if role == "apex" and k >= 1:
        return k - 1  # crop-rois cuts frames in time order; the apex is the last one it cuts
    raise StoreError(
        f"sample {rec.id}: crop-rois did not cut the {role} frame (crop_frames: {roles})",
        hint="run crop-rois with the onset, middle and apex frames",
    )


#: The flow-stage arrays each flow-stage input is made from.
_FLOW_ARRAYS = {
    "flow": (S.D_FLOW, S.D_STRAIN),
    "apex": (S.D_APEX_IMAGE,),
    "onset": (S.D_ONSET_IMAGE,),
    "diff": (S.D_DIFF,),
}


def flow_stage_input(
    maps: dict[str, np.ndarray], name: str, size: tuple[int, int] | None, channels: int | None = None
) -> np.ndarray:
    """One of ``flow``, ``apex``, ``onset``, ``diff`` from the flow stage's arrays (schema names:
    ``flow`` (H, W, 2), ``strain`` (H, W), ``apex_image``/``onset_image`` (H, W[, 3]) uint8,
    ``diff`` (H, W[, 3]) float 0..1) -> (C, h, w) float32, raw scale. Used for sample files and
    for a single clip at prediction time (:class:`mertool.training.predict.ClipPredictor`)."""
    if name == "flow":
        flow = np.asarray(maps[S.D_FLOW], dtype=np.float32)
        strain = np.asarray(maps[S.D_STRAIN], dtype=np.float32)
        x = np.concatenate([flow.transpose(2, 0, 1), strain[None]], axis=0)
        return resize_chw(x, size, is_flow=True) if size else x
    if name in ("apex", "onset"):
        img = maps[S.D_APEX_IMAGE if name == "apex" else S.D_ONSET_IMAGE]
        x = _set_channels(_to_chw(img) / 255.0, channels)
        return resize_chw(x, size) if size else x
    if name == "diff":
        x = _set_channels(_to_chw(maps[S.D_DIFF]), channels)
        return resize_chw(x, size) if size else x
    raise MertoolError(f"{name!r} is not a flow-stage input", hint=f"one of: {', '.join(FLOW_INPUTS)}")


def clip_volume(
    frames: np.ndarray, numbers: np.ndarray, onset: int | None, offset: int | None, length: int
) -> np.ndarray:
    """``length`` gray frames evenly spaced from onset to offset: (length, H, W) float32 in 0..1.

    ``frames``: (K, H, W[, 3]) uint8 aligned frames; ``numbers``: (K,) their frame numbers
    (increasing). ``onset``/``offset`` are frame numbers (None: the first / last frame); the span
    is the frames from the first one at or after the onset to the last one at or before the
    offset. Frame ``i`` of the result sits at position ``i0 + i (i1 - i0) / (length - 1)`` of that
    span, linearly interpolated between the two frames around it (a clip shorter than ``length``
    is stretched, a longer one sampled)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    i0 = 0 if onset is None else int(np.searchsorted(numbers, int(onset), side="left"))
    i1 = len(numbers) - 1 if offset is None else int(np.searchsorted(numbers, int(offset), side="right")) - 1
    if i1 - i0 < 1:
        raise ValueError(f"fewer than 2 frames between onset {onset} and offset {offset}")
    pos = np.linspace(i0, i1, int(length))
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, i1)
    w = (pos - lo).astype(np.float32)[:, None, None]
    need = np.unique(np.concatenate([lo, hi]))
    gray = {int(i): _gray(frames[i]) for i in need}
    out = np.stack([(1 - wi) * gray[int(a)] + wi * gray[int(b)] for a, b, wi in zip(lo, hi, w)])
    return (out / 255.0).astype(np.float32)


def _clip_input(rec: SampleRecord, length: int) -> np.ndarray:
    if not rec.has(S.D_FRAMES) or not rec.has(S.D_FRAME_NUMBERS):
        raise StoreError(
            f"sample {rec.id}: no aligned frames (array 'frames') for the clip input",
            hint="give a detect-faces or spot-apex file (crop-rois drops the frames unless --keep-frames)",
        )
    try:
        return clip_volume(
            rec.array(S.D_FRAMES),
            rec.array(S.D_FRAME_NUMBERS),
            rec.get(S.A_ONSET),
            rec.get(S.A_OFFSET),
            length,
        )
    except ValueError as exc:
        raise StoreError(f"sample {rec.id}: {exc}", hint="check the onset/offset annotation") from None


def region_size(name: str, size: tuple[int, int] | None) -> tuple[int, int] | None:
    """Side of each region image of a region set for a model input ``size``: the zoo's
    convention (:data:`mertool.models.inputs.INPUTS`: ``au5`` 0.4 H, ``rois15`` H/4)."""
    if size is None:
        return None
    from mertool.models.inputs import INPUTS

    frac = INPUTS[name].region_fraction
    return (max(8, round(size[0] * frac)), max(8, round(size[1] * frac)))


def build_input(
    rec: SampleRecord,
    name: str,
    size: tuple[int, int] | None,
    channels: int | None = None,
    three_frames: bool = False,
) -> np.ndarray:
    """One model input of one sample, raw scale, resized; see the module docstring for shapes.

    Raises :class:`~mertool.errors.StoreError` when the sample lacks an array it needs.
    """
    if name in FLOW_INPUTS:
        return flow_stage_input({k: rec.array(k) for k in _FLOW_ARRAYS[name]}, name, size, channels)
    if name in ("face", "frames3"):
        crops = np.asarray(rec.array(f"{S.CROPS_GROUP}/face"))
        if name == "face":
            x = _set_channels(_to_chw(crops[_crop_index(rec, "apex", len(crops))]) / 255.0, channels)
        else:
            idx = [_crop_index(rec, r, len(crops)) for r in ("onset", "middle", "apex")]
            x = np.stack([_gray(crops[i]) for i in idx]).astype(np.float32) / 255.0
        return resize_chw(x, size) if size else x
    if name in REGION_INPUTS:
        size = region_size(name, size)
        crops = np.asarray(rec.array(f"{S.CROPS_GROUP}/{name}"))  # (K, R, s, s[, 3])
        if three_frames:
            idx = [_crop_index(rec, r, len(crops)) for r in ("onset", "middle", "apex")]
            regions = [np.stack([_gray(crops[i][r]) for i in idx]) / 255.0 for r in range(crops.shape[1])]
        else:
            a = crops[_crop_index(rec, "apex", len(crops))]
            regions = [_set_channels(_to_chw(a[r]) / 255.0, channels) for r in range(a.shape[0])]
        regions = [
            resize_chw(np.asarray(r, np.float32), size) if size else np.asarray(r, np.float32)
            for r in regions
        ]
        return np.stack(regions).astype(np.float32)
    if is_clip_input(name):
        x = _clip_input(rec, clip_input_frames(name))
        return resize_chw(x, size) if size else x
    raise MertoolError(f"unknown model input {name!r}", hint="see mertool/models/registry.py")


# ------------------------------------------------------------------------------------------------
# the whole file


@dataclass
class SampleTable:
    """Every usable sample of a file, in memory (raw-scale inputs; see module docstring)."""

    ids: list[str]
    datasets: list[str]
    subjects: list[str | None]
    splits: list[str | None]
    labels: np.ndarray  # (N,) int64 index into classes
    classes: list[str]
    label_map: str
    inputs: dict[str, np.ndarray]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows: np.ndarray) -> SampleTable:
        rows = np.asarray(rows, dtype=np.int64)
        return SampleTable(
            ids=[self.ids[i] for i in rows],
            datasets=[self.datasets[i] for i in rows],
            subjects=[self.subjects[i] for i in rows],
            splits=[self.splits[i] for i in rows],
            labels=self.labels[rows],
            classes=self.classes,
            label_map=self.label_map,
            inputs={k: v[rows] for k, v in self.inputs.items()},
            skipped=[],
            source=self.source,
        )


def _label_of(rec: SampleRecord, label_map: str | None) -> tuple[str | None, str | None]:
    """(label, map name) of a record under ``label_map`` (None: the file's own ``label``)."""
    if label_map is None:
        return rec.get(S.A_LABEL), rec.get(S.A_LABEL_MAP)
    if label_map == "native":
        return rec.get(S.A_EMOTION), "native"
    labels = rec.get(S.A_LABELS_JSON) or {}
    if label_map in labels:
        return labels[label_map], label_map
    if rec.get(S.A_LABEL_MAP) == label_map:
        return rec.get(S.A_LABEL), label_map
    return None, label_map


def class_list(label_map: str, present: Iterable[str]) -> list[str]:
    """Class order of a label map (the index a model predicts); ``native``/unknown maps: sorted."""
    from mertool.datasets.labels import LABEL_MAPS

    present = set(present)
    if label_map in LABEL_MAPS:
        classes = list(LABEL_MAPS[label_map].classes)
        extra = present - set(classes)
        if extra:
            raise MertoolError(
                f"labels {sorted(extra)} are not classes of label map {label_map!r} ({', '.join(classes)})"
            )
        return classes
    return sorted(present)


def load_table(
    source: str | Path | SampleFile,
    input_names: Iterable[str],
    size: int | tuple[int, int] | None = None,
    label_map: str | None = None,
    classes: list[str] | None = None,
    channels: int | None = None,
    three_frames: bool = False,
    require_labels: bool = True,
    progress: bool = True,
) -> SampleTable:
    """Read every usable sample of a sample file into memory.

    ``size``: model input (H, W) or a side length; None keeps the stored size. ``label_map``:
    None uses the file's own ``label`` attribute. ``classes`` fixes the class order (a trained
    model's); otherwise it comes from the label map. With ``require_labels=False`` (prediction)
    unlabelled samples are kept with label -1.
    """
    input_names = tuple(input_names)
    if isinstance(size, int):
        size = (size, size)
    if isinstance(source, SampleFile):
        return _load(
            source, input_names, size, label_map, classes, channels, three_frames, require_labels, progress
        )
    with SampleFile(source) as sf:
        return _load(
            sf, input_names, size, label_map, classes, channels, three_frames, require_labels, progress
        )


def _load(sf, input_names, size, label_map, classes, channels, three_frames, require_labels, progress):
    from mertool.console import track

    ids: list[str] = []
    datasets: list[str] = []
    subjects: list[str | None] = []
    splits: list[str | None] = []
    labels: list[str | None] = []
    maps: set[str] = set()
    arrays: dict[str, list[np.ndarray]] = {n: [] for n in input_names}
    skipped: list[tuple[str, str]] = []
    flow_record = None
    all_ids = sf.ids()
    items = track(all_ids, "loading samples") if progress else all_ids
    for sid in items:
        rec = sf.record(sid)
        if not rec.ok:
            skipped.append((sid, f"failed at an earlier stage: {rec.get(S.A_ERROR, 'no reason recorded')}"))
            continue
        label, used_map = _label_of(rec, label_map)
        if label is None and require_labels:
            skipped.append((sid, f"no label under label map {label_map or rec.get(S.A_LABEL_MAP) or '?'}"))
            continue
        try:
            built = {n: build_input(rec, n, size, channels, three_frames) for n in input_names}
        except StoreError as exc:
            skipped.append((sid, exc.message))
            continue
        if arrays and any(a and a[0].shape != built[n].shape for n, a in arrays.items()):
            shapes = {
                n: (a[0].shape, built[n].shape)
                for n, a in arrays.items()
                if a and a[0].shape != built[n].shape
            }
            raise MertoolError(
                f"{sf.name}: sample {sid} has input shapes {shapes} (first vs this); samples differ in size",
                hint="give --input-size to resize every sample to one size",
            )
        for n in input_names:
            arrays[n].append(built[n])
        if flow_record is None and rec.get(S.A_FLOW_PARAMS_JSON):
            flow_record = rec.get(S.A_FLOW_PARAMS_JSON)
        ids.append(sid)
        datasets.append(str(rec.get(S.A_DATASET, "?")))
        subj = rec.get(S.A_SUBJECT)
        subjects.append(str(subj) if subj is not None else None)
        splits.append(rec.get(S.A_SPLIT))
        labels.append(label)
        if used_map:
            maps.add(used_map)
    if label_map is None:
        if len(maps) > 1:
            raise MertoolError(
                f"{sf.name} mixes label maps {sorted(maps)}",
                hint="choose one with --label-map (e.g. megc2019 for a composite file)",
            )
        label_map = next(iter(maps), "native")
    if not ids:
        reasons = sorted({r for _, r in skipped})[:3]
        raise MertoolError(
            f"{sf.name}: no usable samples ({len(skipped)} skipped: {'; '.join(reasons) or 'file is empty'})",
            hint="mertool inspect FILE shows what the file holds; the model may need another stage's arrays",
        )
    if classes is None:
        classes = class_list(label_map, [lab for lab in labels if lab is not None])
    else:
        unknown = {lab for lab in labels if lab is not None and lab not in classes}
        if unknown and require_labels:
            raise MertoolError(f"labels {sorted(unknown)} are not among the model's classes {classes}")
    # -1: no label (prediction on unlabelled data, or a label outside the model's classes)
    y = np.array([classes.index(lab) if lab in classes else -1 for lab in labels], dtype=np.int64)
    return SampleTable(
        ids=ids,
        datasets=datasets,
        subjects=subjects,
        splits=splits,
        labels=y,
        classes=list(classes),
        label_map=label_map,
        inputs={n: np.stack(a).astype(np.float32, copy=False) for n, a in arrays.items()},
        skipped=skipped,
        source={
            "path": str(sf.path),
            "name": sf.name,
            "stage": sf.stage,
            "stages": sf.stages_done,
            "stage_params": {h.get("stage"): h.get("params", {}) for h in sf.history + [sf.provenance]},
            "flow_record": flow_record,
        },
    )


# ------------------------------------------------------------------------------------------------
# normalisation


GLOBAL_KEY = "*"


@dataclass
class Normalizer:
    """Per-input, per-channel mean and std, by dataset name (``"*"``: all training samples).

    ``stats[input][key] = {"mean": [C floats], "std": [C floats]}``; ``mode`` is ``dataset``,
    ``global`` or ``none``.
    """

    mode: str
    stats: dict[str, dict[str, dict[str, list[float]]]]

    @staticmethod
    def fit(table: SampleTable, rows: np.ndarray, mode: str = "dataset") -> Normalizer:
        """Statistics of the samples ``rows`` (a fold's training rows) only."""
        if mode not in ("dataset", "global", "none"):
            raise MertoolError(f"unknown normalisation {mode!r}", hint="one of: dataset, global, none")
        rows = np.asarray(rows, dtype=np.int64)
        stats: dict[str, dict[str, dict[str, list[float]]]] = {}
        if mode == "none":
            return Normalizer(mode, stats)
        ds = np.asarray(table.datasets, dtype=object)
        for name, arr in table.inputs.items():
            axes = (0, 1, 3, 4) if name in REGION_INPUTS else (0, 2, 3)
            groups = {GLOBAL_KEY: rows}
            if mode == "dataset":
                for d in sorted(set(ds[rows])):
                    groups[d] = rows[ds[rows] == d]
            stats[name] = {}
            for key, r in groups.items():
                x = arr[r].astype(np.float64)
                mean = x.mean(axis=axes)
                std = x.std(axis=axes)
                std = np.where(std > 1e-6, std, 1.0)  # a constant channel: centre only
                stats[name][key] = {"mean": mean.tolist(), "std": std.tolist()}
        return Normalizer(mode, stats)

    def tables(self, name: str, datasets: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample (N, C) mean and std of input ``name`` for samples of ``datasets``."""
        per = self.stats.get(name)
        if not per:
            raise KeyError(name)
        rows_mean, rows_std = [], []
        for d in datasets:
            s = per.get(d) if self.mode == "dataset" else None
            s = s or per[GLOBAL_KEY]
            rows_mean.append(s["mean"])
            rows_std.append(s["std"])
        return np.asarray(rows_mean, np.float32), np.asarray(rows_std, np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "stats": self.stats}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Normalizer:
        return Normalizer(d["mode"], d["stats"])


# ------------------------------------------------------------------------------------------------
# the torch Dataset


class BatchSet:
    """A torch-style Dataset over some rows of a table; ``set[list_of_positions]`` is a batch.

    Returns ``(inputs: dict[str, Tensor], labels: LongTensor (B,), rows: LongTensor (B,))`` where
    ``rows`` index the table (so the loop can name the samples it saw). ``augment`` (a callable
    ``(inputs, generator) -> inputs`` on raw-scale tensors) runs before normalisation.
    """

    def __init__(
        self,
        table: SampleTable,
        rows: np.ndarray,
        normalizer: Normalizer,
        augment: Any = None,
        generator: Any = None,
        inputs: dict[str, np.ndarray] | None = None,
        labels: np.ndarray | None = None,
        datasets: list[str] | None = None,
    ):
        import torch

        self.table = table
        self.rows = np.asarray(rows, dtype=np.int64)
        # ``inputs``/``labels``/``datasets`` override the table's (offline-augmented copies)
        self._inputs = {
            k: torch.from_numpy(np.ascontiguousarray(v if inputs is not None else v[self.rows]))
            for k, v in (inputs if inputs is not None else table.inputs).items()
        }
        self._labels = torch.from_numpy(labels if labels is not None else table.labels[self.rows])
        ds = datasets if datasets is not None else [table.datasets[i] for i in self.rows]
        self._norm: dict[str, tuple[Any, Any]] = {}
        for name in self._inputs:
            if normalizer.mode == "none":
                continue
            mean, std = normalizer.tables(name, ds)
            shape = (-1, 1, mean.shape[1], 1, 1) if name in REGION_INPUTS else (-1, mean.shape[1], 1, 1)
            self._norm[name] = (torch.from_numpy(mean).reshape(shape), torch.from_numpy(std).reshape(shape))
        self.augment = augment
        self.generator = generator

    def __len__(self) -> int:
        return len(self._labels)

    def labels_array(self) -> np.ndarray:
        return self._labels.numpy()

    def ids(self, positions: Iterable[int]) -> list[str]:
        return [self.table.ids[self.rows[p]] for p in positions]

    def __getitem__(self, positions):
        import torch

        pos = torch.as_tensor(positions if not isinstance(positions, int) else [positions], dtype=torch.long)
        x = {k: v.index_select(0, pos) for k, v in self._inputs.items()}
        if self.augment is not None:
            x = self.augment(x, self.generator)
        for k, (mean, std) in self._norm.items():
            x[k] = (x[k] - mean.index_select(0, pos)) / std.index_select(0, pos)
        return x, self._labels.index_select(0, pos), torch.from_numpy(self.rows[pos.numpy()])
