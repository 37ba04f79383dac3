"""The model-input vocabulary: every input a model may declare, its array layout, and the pipeline
stage whose sample file holds what it is made from. One table; the data loading
(:mod:`mertool.training.data`), augmentation (:mod:`mertool.training.augment`), cost counting
(:mod:`mertool.models.complexity`) and model registration (:mod:`mertool.models.registry`) read it.

=========  =====================  ==========  ===========================================
input      array per sample       stage       what it is
=========  =====================  ==========  ===========================================
flow       (3, H, W)              flow        u, v optical flow and optical strain
apex       (C, H, W)              flow        the apex frame, intensities 0..1
onset      (C, H, W)              flow        the onset frame, intensities 0..1
diff       (C, H, W)              flow        apex minus onset
face       (C, H, W)              crop-rois   the aligned apex face
frames3    (3, H, W)              crop-rois   onset, middle, apex as channels (paper 001)
rois15     (15, C, h, w), h=H/4   crop-rois   the 15 facial ROIs (paper 001)
au5        (5, C, h, w), h=0.4 H  crop-rois   the 5 action-unit regions (paper 003)
clip<T>    (T, C, H, W)           detect-faces  T aligned frames, onset to offset (``clip``: T=10)
=========  =====================  ==========  ===========================================

C is 1 (grey) or 3 (colour), as the sample file holds the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from mertool.errors import MertoolError


@dataclass(frozen=True)
class InputKind:
    name: str
    stage: str  # the pipeline stage whose sample file it is made from (store.schema.STAGE_*)
    channels: int | None = None  # fixed channel count; None: the frames' own (1 or 3)
    regions: int = 0  # > 0: a set of regions, (R, C, h, w) per sample
    region_fraction: float = 0.0  # region side as a fraction of the input size
    intensity: bool = False  # values are intensities in 0..1 (contrast augmentation applies)


_STAGE_FLOW, _STAGE_ROIS, _STAGE_FACES = "flow", "crop-rois", "detect-faces"

INPUTS: dict[str, InputKind] = {
    k.name: k
    for k in (
        InputKind("flow", _STAGE_FLOW, channels=3),
        InputKind("apex", _STAGE_FLOW, intensity=True),
        InputKind("onset", _STAGE_FLOW, intensity=True),
        InputKind("diff", _STAGE_FLOW),
        InputKind("face", _STAGE_ROIS, intensity=True),
        InputKind("frames3", _STAGE_ROIS, channels=3, intensity=True),
        InputKind("rois15", _STAGE_ROIS, regions=15, region_fraction=0.25, intensity=True),
        InputKind("au5", _STAGE_ROIS, regions=5, region_fraction=0.4, intensity=True),
        InputKind("clip", _STAGE_FACES),
    )
}

#: every input name a model may declare (``clip<T>`` also, see :func:`clip_input_frames`)
INPUT_NAMES = tuple(INPUTS)
FLOW_INPUTS = tuple(n for n, k in INPUTS.items() if k.stage == _STAGE_FLOW)
CROP_INPUTS = tuple(n for n, k in INPUTS.items() if k.stage == _STAGE_ROIS)
REGION_INPUTS = tuple(n for n, k in INPUTS.items() if k.regions)
#: inputs whose values are intensities in 0..1 (contrast augmentation applies to them)
IMAGE_INPUTS = tuple(n for n, k in INPUTS.items() if k.intensity)

#: Frames of the ``clip`` input; ``clip<T>`` asks for another number (:func:`clip_input_name`).
CLIP_FRAMES = 10


def clip_input_name(frames: int = CLIP_FRAMES) -> str:
    """The input name of a clip of ``frames`` frames: ``clip`` (the default T) or ``clip<T>``."""
    frames = int(frames)
    if frames < 2:
        raise MertoolError(f"a clip input needs at least 2 frames, got {frames}")
    return "clip" if frames == CLIP_FRAMES else f"clip{frames}"


def clip_input_frames(name: str) -> int | None:
    """T of a clip input name (``clip`` -> 10, ``clip16`` -> 16); None for any other input."""
    if name == "clip":
        return CLIP_FRAMES
    if name.startswith("clip") and name[4:].isdigit() and int(name[4:]) >= 2:
        return int(name[4:])
    return None


def is_clip_input(name: str) -> bool:
    """``clip`` or ``clip<T>``."""
    return clip_input_frames(name) is not None


def required_stage(input_names) -> str:
    """The last pipeline stage a set of inputs needs (``flow``, ``crop-rois``, or ``detect-faces``
    for clip inputs alone: they read the aligned frames, which crop-rois drops by default)."""
    names = set(input_names)
    if names & set(FLOW_INPUTS):
        return _STAGE_FLOW
    if names and all(is_clip_input(n) for n in names):
        return _STAGE_FACES
    return _STAGE_ROIS
