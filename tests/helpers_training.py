"""Shared helpers for the training/evaluation tests: a tiny flow-stage sample file with
class-dependent motion, and a tiny registered model (registered here, not in the package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mertool.store import SampleWriter
from mertool.store import schema as S

CLASSES = ("negative", "positive", "surprise")


def motion_field(label: int, size: int, rng: np.random.Generator, strength: float = 1.5) -> np.ndarray:
    """(size, size, 2) flow: negative = brows pulled down/in (top half), positive = mouth corners
    up and out (bottom half), surprise = brows up (top half); plus noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    flow = rng.normal(0, 0.15, (size, size, 2)).astype(np.float32)
    top = np.exp(-((yy - 0.3) ** 2) / 0.01)
    bottom = np.exp(-((yy - 0.75) ** 2) / 0.01)
    side = xx - 0.5
    amp = strength * rng.uniform(0.7, 1.3)
    if label == 0:
        flow[..., 1] += amp * top
        flow[..., 0] += -amp * np.sign(side) * top * 0.5
    elif label == 1:
        flow[..., 0] += amp * np.sign(side) * bottom
        flow[..., 1] += -amp * bottom * 0.5
    else:
        flow[..., 1] += -amp * top
    return flow


def write_flow_file(
    path: Path,
    subjects: int = 6,
    per_class: int = 2,
    size: int = 24,
    datasets: tuple[str, ...] = ("synth",),
    seed: int = 0,
    failed: int = 0,
    unlabelled: int = 0,
) -> Path:
    """A flow-stage sample file: ``subjects`` subjects per dataset, ``per_class`` clips of each
    class per subject, plus ``failed`` failed samples and ``unlabelled`` ones without a label."""
    rng = np.random.default_rng(seed)

    def arrays(label: int) -> dict:
        flow = motion_field(label, size, rng)
        strain = np.sqrt(np.gradient(flow[..., 0], axis=1) ** 2 + np.gradient(flow[..., 1], axis=0) ** 2)
        onset = rng.integers(60, 200, (size, size), dtype=np.uint8)
        apex = np.clip(onset.astype(int) + (np.abs(flow[..., 1]) * 20).astype(int), 0, 255).astype(np.uint8)
        crops = np.stack([onset, ((onset.astype(int) + apex) // 2).astype(np.uint8), apex])
        return {
            S.D_FLOW: flow,
            S.D_STRAIN: strain.astype(np.float32),
            S.D_DIFF: np.abs(apex.astype(np.float32) - onset) / 255.0,
            S.D_ONSET_IMAGE: onset,
            S.D_APEX_IMAGE: apex,
            f"{S.CROPS_GROUP}/face": crops,
        }

    common = {
        S.A_CROP_FRAMES: ["onset", "middle", "apex"],
        S.A_FLOW_PARAMS_JSON: {"preset": "micro", "size": size},
    }
    with SampleWriter(path, stage=S.STAGE_FLOW, params={"test": True}) as w:
        for ds in datasets:
            for s in range(subjects):
                subj = f"s{s + 1:02d}"
                for label in range(len(CLASSES)):
                    for c in range(per_class):
                        w.write(
                            f"{ds}/{subj}/c{label}{c}",
                            arrays=arrays(label),
                            attrs={
                                **common,
                                S.A_DATASET: ds,
                                S.A_SUBJECT: subj,
                                S.A_CLIP: f"c{label}{c}",
                                S.A_EMOTION: CLASSES[label],
                                S.A_LABEL_MAP: "megc2019",
                                S.A_LABEL: CLASSES[label],
                                S.A_LABELS_JSON: {"megc2019": CLASSES[label]},
                            },
                        )
            for i in range(failed):
                w.write_failed(
                    f"{ds}/s01/bad{i}",
                    "no face found in frame 3",
                    attrs={S.A_DATASET: ds, S.A_SUBJECT: "s01"},
                )
            for i in range(unlabelled):  # an "others" clip: outside megc2019, complete otherwise
                w.write(
                    f"{ds}/s02/other{i}",
                    arrays=arrays(0),
                    attrs={
                        **common,
                        S.A_DATASET: ds,
                        S.A_SUBJECT: "s02",
                        S.A_EMOTION: "others",
                        S.A_LABEL_MAP: "megc2019",
                    },
                )
    return path


def register_tiny_model(name: str = "tiny-test") -> str:
    """A very small two-input (flow, apex) CNN under ``name``; returns the name."""
    import torch
    from torch import nn

    from mertool.models.registry import Option, register_model

    class Tiny(nn.Module):
        def __init__(self, num_classes: int, width: int = 8, aux: bool = False):
            super().__init__()
            self.flow = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
            self.apex = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU())
            self.head = nn.Linear(2 * width, num_classes)
            self.aux = nn.Linear(width, num_classes) if aux else None

        def forward(self, inputs, labels=None):
            a = self.flow(inputs["flow"]).mean(dim=(2, 3))
            apex = inputs["apex"]
            if apex.shape[1] == 3:
                apex = apex.mean(dim=1, keepdim=True)
            b = self.apex(apex).mean(dim=(2, 3))
            out = {"logits": self.head(torch.cat([a, b], dim=1))}
            if self.aux is not None:
                out["aux_logits"] = [self.aux(a)]
                out["aux_weight"] = 0.5
            return out

    @register_model(
        name,
        inputs=("flow", "apex"),
        input_size=24,
        paper="test",
        description="tiny test model",
        options={"width": Option(8, "channels"), "aux": Option(False, "an auxiliary head", (False, True))},
    )
    def build(num_classes: int, width: int = 8, aux: bool = False):
        return Tiny(num_classes, width, aux)

    return name


#: Registered on import, so spawned fold workers (which import this module) know it too.
TINY = register_tiny_model()
