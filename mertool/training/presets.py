"""The papers' training set-ups as named presets (``--preset NAME``); any flag overrides them.

Every value carries its source: a section of the paper (files in shared/seeds, summarised in
docs/training.md), or "ours" where the paper does not say and mertool had to choose.
``mertool train --preset NAME --help`` prints the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mertool.errors import MertoolError


@dataclass(frozen=True)
class Preset:
    name: str
    paper: str
    description: str
    values: dict[str, Any]  # RunConfig field (or FitConfig field) -> value
    sources: dict[str, str] = field(default_factory=dict)  # field -> where the value comes from

    def settings(self) -> dict[str, Any]:
        return dict(self.values)

    def rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) rows for help and docs."""
        out = []
        for k, v in self.values.items():
            default_source = "ours (the paper does not say)"
            if isinstance(v, dict):
                if not v:
                    default_source = "the model's defaults (see arch)"
                v = ", ".join(f"{a}={b}" for a, b in v.items()) or "defaults"
            out.append((k.replace("_", "-"), str(v), self.sources.get(k, default_source)))
        return out


_PRESETS: dict[str, Preset] = {}


def _add(p: Preset) -> None:
    _PRESETS[p.name] = p


_add(
    Preset(
        name="dfr-net-004",
        paper="004",
        description="DFR-Net (T+S+D, attention fusion, ResNet with CA+SA, 3 stages) on the MEGC2019 composite",
        values={
            "arch": "dfr-net",
            "options": {"temporal": "gate", "dropout": 0.0, "head_motion": "none"},
            "input_size": 56,
            "loss": "ce",
            "optimizer": "adam",
            "lr": 1e-5,
            "weight_decay": 0.0,
            "epochs": 100,
            "batch_size": 32,
            "schedule": "none",
            "early_stop": 10,
            "monitor": "val_loss",
            "val_subjects": 4,
            "augment": "hflip,crop=0.1",
            "norm": "dataset",
            "label_map": "megc2019",
            "protocol": "composite",
        },
        sources={
            "arch": "004 section 3 (the paper's best row: T+S+D, 3 stages, CA+SA)",
            "options": "004 eq. 10: the flow only weights channels (temporal=gate); 004 names no dropout "
            "and takes the flow as given (head_motion=none)",
            "input_size": "56 x 56: the size at which the model matches 004 Tables 7 and 9 (docs/models.md)",
            "weight_decay": "004 section 4.2 names none",
            "loss": "004 section 4.2: cross-entropy",
            "optimizer": "004 section 4.2: Adam",
            "lr": "004 section 4.2: learning rate 0.00001",
            "epochs": "004 section 4.2: 100 epochs",
            "batch_size": "004 section 4.2: batch size 32",
            "early_stop": "004 section 4.2: early stopping when validation loss plateaus for 10 epochs",
            "monitor": "004 section 4.2: validation loss",
            "val_subjects": "ours: 004 does not size the validation split; 4 training subjects",
            "augment": "004 section 4.2: horizontal flipping and random cropping (crop size ours)",
            "norm": "004 section 4.2: the dataset's mean and standard deviation",
            "label_map": "004 section 4.1 / MEGC2019: positive, negative, surprise",
            "protocol": "004 section 4.3: LOSO on the composite and on each dataset",
            "schedule": "004 section 4.2 mentions no schedule",
        },
    )
)

_add(
    Preset(
        name="se-resnet50-000",
        paper="000",
        description="SE-ResNet50 on still faces (RAF-DB, 7 classes, fixed train/test split)",
        values={
            "arch": "se-resnet50",
            "options": {},
            "loss": "ce",
            "optimizer": "adam",
            "lr": 1e-4,
            "epochs": 40,
            "batch_size": 32,
            "schedule": "cosine",
            "augment": "hflip,crop=0.1",
            "label_map": "rafdb-7",
            "protocol": "split",
        },
        sources={
            "arch": "000 section 2.2 / T3: ResNet50 with SE in every block",
            "label_map": "000 section 3.1: RAF-DB, seven expression categories",
            "protocol": "000 section 3.1: RAF-DB as distributed (its train/test split)",
        },
    )
)

_add(
    Preset(
        name="abn-001",
        paper="001",
        description="ResNet + Attention Branch Network (2D apex input), SAMM, stratified 5-fold",
        values={
            "arch": "resnet-abn",
            "options": {},
            "loss": "ce",
            "optimizer": "sgd",
            "lr": 1e-3,
            "epochs": 100,
            "batch_size": 16,
            "schedule": "none",
            "augment": "rotate=10,hflip,contrast=0.2,x10",
            "val_subjects": 0,
            "protocol": "kfold:5",
        },
        sources={
            "arch": "001 section 3.3 / Figure 4: ResNet with ABN, apex frame, full face (ROI input: --opt roi=true; 3 frames: --opt input=3frames; ArcFace: --opt arcface=true --loss arcface)",
            "optimizer": "001 Table 3: SGD",
            "lr": "001 Table 3: SGD(1e-3)",
            "epochs": "001 Table 3: 100 epochs",
            "batch_size": "001 Table 3: batch size 16",
            "augment": "001 section 3.1: training data augmented x10 by rotations, flips and contrast (ranges ours)",
            "val_subjects": "001 describes no validation split or early stopping: the last epoch is kept",
            "protocol": "001 section 4: 5 folds, each emotion spread evenly (mertool keeps subjects whole)",
        },
    )
)

_add(
    Preset(
        name="dual-branch-002",
        paper="002",
        description="Dual-branch ResNet12 + Inception with CAFFM fusion, CASME II 5 classes",
        values={
            "arch": "dual-branch",
            "options": {},
            "loss": "ce",
            "optimizer": "adam",
            "lr": 1e-3,
            "epochs": 500,
            "batch_size": 64,
            "schedule": "step",
            "step_size": 100,
            "gamma": 0.9,
            "augment": "none",
            "label_map": "casme2-5",
            "protocol": "loso",
        },
        sources={
            "arch": "002 section III (ResNet12 global branch, Inception over 5 AU regions, CAFFM)",
            "optimizer": "002 section IV.B: Adam",
            "lr": "002 section IV.B: initial learning rate 0.001",
            "epochs": "002 section IV.B: 500 epochs",
            "batch_size": "002 section IV.B: batch size 64",
            "schedule": "002 section IV.B: step decay",
            "step_size": "002 section IV.B: every 100 epochs",
            "gamma": "002 section IV.B: gamma 0.9",
            "augment": "002 mentions no augmentation",
            "label_map": "002 section IV.A: happiness, surprise, disgust, repression, others",
            "protocol": "ours: 002 does not state its split; LOSO is the field's standard",
        },
    )
)

_add(
    Preset(
        name="se-resnext50-003",
        paper="003",
        description="SE-ResNeXt-50 (32x4d) on apex frames with focal loss, CASME II",
        values={
            "arch": "se-resnext50",
            "options": {},
            "loss": "focal",
            "optimizer": "adam",
            "lr": 1e-4,
            "epochs": 50,
            "batch_size": 32,
            "schedule": "cosine",
            "augment": "hflip",
            "label_map": "casme2-5",
            "protocol": "loso",
        },
        sources={
            "arch": "003 abstract: SE-ResNeXt-50 on apex frames",
            "loss": "003 abstract: Focal Loss against class imbalance",
            "label_map": "ours: only 003's abstract survives; CASME II with the 5-class map",
        },
    )
)


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def get_preset(name: str) -> Preset:
    if name not in _PRESETS:
        raise MertoolError(f"unknown preset {name!r}", hint=f"one of: {', '.join(preset_names())}")
    return _PRESETS[name]
