"""One resolved training configuration: built-in defaults, the architecture's training defaults
(:attr:`mertool.models.registry.ModelSpec.train_defaults`), then a preset, then explicit flags.

:class:`RunConfig` is what ``mertool train`` and ``mertool eval-loso`` run and what model files and
``summary.json`` record. :func:`resolve_config` layers the three sources; a flag the user gave
always wins over the preset, and the preset over the defaults (``--preset NAME --help`` lists
what a preset sets).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mertool.errors import MertoolError
from mertool.training.augment import parse_augment
from mertool.training.loop import FitConfig

#: Defaults when neither a preset nor a flag sets a value.
DEFAULTS: dict[str, Any] = {
    "arch": None,
    "options": {},
    "loss": "ce",
    "loss_options": {},
    "epochs": 30,
    "batch_size": 32,
    "lr": 1e-3,
    "optimizer": "adam",
    "momentum": 0.9,
    "weight_decay": 0.0,
    "schedule": "none",
    "step_size": 0,
    "gamma": 0.1,
    "early_stop": 0,
    "monitor": "val_loss",
    "recalibrate_bn": True,
    "augment": "none",
    "val_subjects": 0,
    "input_size": None,
    "channels": None,
    "label_map": None,
    "norm": "dataset",
    "protocol": "loso",
}


@dataclass
class RunConfig:
    """Everything that decides a trained model (not where or how fast it runs)."""

    arch: str
    options: dict[str, Any] = field(default_factory=dict)
    fit: FitConfig = field(default_factory=FitConfig)
    augment: str = "none"
    val_subjects: int = 0
    input_size: int | None = None  # None: the model's default input size
    channels: int | None = None  # None: as stored (3 RGB / 1 gray)
    label_map: str | None = None  # None: the file's own labels
    norm: str = "dataset"
    protocol: str = "loso"
    seed: int = 0
    preset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fit"] = self.fit.to_dict()
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        d["fit"] = FitConfig(**d.get("fit", {}))
        return RunConfig(**{k: v for k, v in d.items() if k in {f.name for f in fields(RunConfig)}})

    def identity(self) -> dict[str, Any]:
        """What must match for two runs' folds to be pooled together (resume, shards)."""
        return self.to_dict()


_FIT_KEYS = {f.name for f in fields(FitConfig)}


def resolve_config(preset: str | None, flags: dict[str, Any], seed: int = 0) -> RunConfig:
    """Defaults <- the architecture's own training defaults <- preset <- flags (``None`` in
    ``flags`` means "not given")."""
    from mertool.training.presets import get_preset

    values = dict(DEFAULTS)
    values["options"] = {}
    values["loss_options"] = {}
    arch = flags.get("arch")
    if not arch and preset:
        arch = get_preset(preset).values.get("arch")
    if arch:
        from mertool.models.registry import model_spec

        for k, v in model_spec(arch).train_defaults.items():
            if k not in values:
                raise KeyError(k)
            values[k] = v
    if preset:
        p = get_preset(preset)
        for k, v in p.settings().items():
            if k in ("options", "input_size"):
                # a preset's model options and input size belong to its own architecture: with
                # another --arch (a table row running the preset's recipe on a baseline) they do
                # not apply, and that architecture keeps its own
                if arch == p.values.get("arch"):
                    values[k] = dict(v) if k == "options" else v
            else:
                values[k] = v
    for k, v in flags.items():
        if v is None:
            continue
        if k == "options":
            values["options"] = {**values["options"], **v}
        elif k == "loss_options":
            values["loss_options"] = {**values["loss_options"], **v}
        elif k not in values:
            raise KeyError(k)
        else:
            values[k] = v
    if not values["arch"]:
        raise MertoolError(
            "no architecture given", hint="use --arch NAME (mertool models list) or --preset NAME"
        )
    parse_augment(values["augment"])  # fail early on a bad spec
    if values["val_subjects"] < 0:
        raise MertoolError("--val-subjects must be 0 or more")
    fit = FitConfig(**{k: values[k] for k in _FIT_KEYS})
    fit.check()
    if fit.early_stop and not values["val_subjects"]:
        raise MertoolError(
            "--early-stop needs a validation split: give --val-subjects K",
            hint="early stopping on the test fold is exactly what mertool never does (DESIGN section 3)",
        )
    return RunConfig(
        arch=values["arch"],
        options=dict(values["options"]),
        fit=fit,
        augment=parse_augment(values["augment"]).spec(),
        val_subjects=int(values["val_subjects"]),
        input_size=values["input_size"],
        channels=values["channels"],
        label_map=values["label_map"],
        norm=values["norm"],
        protocol=values["protocol"],
        seed=int(seed),
        preset=preset,
    )


def fold_seed(seed: int, fold_name: str) -> int:
    """A fold's own seed: independent of which other folds run, where, or in which order."""
    return (int(seed) * 1_000_003 + zlib.crc32(fold_name.encode())) % (2**31 - 1)
