"""Loading weights into a model: torchvision's ImageNet weights for the ResNet trunks, or any state dict.

``pretrained="imagenet"`` looks up torchvision's weights enum for each trunk the model declares
(:attr:`MERModel.imagenet_trunks`: ``(arch, prefix)``) and loads the file **only if it is
already in torch hub's cache** (``$TORCH_HOME/hub/checkpoints``, see :func:`torch.hub.get_dir`):
mertool never downloads. Offline with no cached file it stops with an
:class:`~mertool.errors.EnvironmentProblem` naming the exact file and the folder to put it in.

``pretrained=FILE`` loads a state dict saved by ``torch.save`` (a bare state dict, or a dict
holding one under ``state_dict``/``model``; a DataParallel ``module.`` prefix is dropped).

Both load by name and never fail on a partial match: keys whose shapes differ (a classifier
with another number of classes, a 3D first conv) are skipped, and the :class:`LoadReport` lists
what was loaded, what the model had that the file lacked (``missing``), what the file had that
the model lacks (``unexpected``) and what was skipped for its shape (``mismatched``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mertool.errors import EnvironmentProblem, MertoolError

#: torchvision architecture name -> weights enum name in torchvision.models.
WEIGHTS_ENUMS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
    "resnext50_32x4d": "ResNeXt50_32X4D_Weights",
}


@dataclass
class LoadReport:
    """What a weight load did; ``summary()`` is one line for people."""

    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def summary(self, show: int = 4) -> str:
        def few(keys: list[str]) -> str:
            more = f", ... (+{len(keys) - show})" if len(keys) > show else ""
            return ", ".join(keys[:show]) + more

        parts = [f"loaded {len(self.loaded)} tensors from {self.source}"]
        if self.missing:
            parts.append(f"{len(self.missing)} missing (kept their initialisation): {few(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (ignored): {few(self.unexpected)}")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} skipped for their shape: {few(self.mismatched)}")
        return "; ".join(parts)


def cache_dir() -> Path:
    """Where torchvision keeps downloaded weights: ``torch.hub.get_dir()/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_weights(arch: str):
    """The weights enum members for ``arch``, torchvision's DEFAULT first."""
    import torchvision.models as tvm

    if arch not in WEIGHTS_ENUMS:
        raise MertoolError(
            f"no ImageNet weights known for {arch!r}", hint=f"one of: {', '.join(WEIGHTS_ENUMS)}"
        )
    enum = getattr(tvm, WEIGHTS_ENUMS[arch])
    members = list(enum)
    default = enum.DEFAULT
    return [default] + [m for m in members if m is not default]


def imagenet_state_dict(arch: str) -> tuple[dict[str, torch.Tensor], str]:
    """The cached ImageNet state dict of ``arch`` and its file path; never downloads."""
    candidates = imagenet_weights(arch)
    folder = cache_dir()
    for weights in candidates:
        path = folder / Path(weights.url).name
        if path.is_file():
            try:
                return weights.get_state_dict(progress=False, check_hash=False), str(path)
            except Exception as exc:  # a truncated or foreign file: say which
                raise EnvironmentProblem(
                    f"cannot read the cached ImageNet weights {path}: {exc}",
                    hint=f"delete it and place a good copy of {weights.url} there",
                ) from exc
    first = candidates[0]
    names = " or ".join(Path(w.url).name for w in candidates)
    raise EnvironmentProblem(
        f"ImageNet weights for {arch} are not in the torch cache {folder} (looked for {names}); "
        "mertool does not download",
        hint=(
            f"on a machine with internet fetch {first.url}, copy {Path(first.url).name} into {folder} "
            "(or point TORCH_HOME at a folder whose hub/checkpoints holds it), or train from scratch "
            "without --pretrained"
        ),
    )


def load_into(
    model: nn.Module, state_dict: dict[str, torch.Tensor], source: str, prefix: str = ""
) -> LoadReport:
    """Copy every tensor of ``state_dict`` whose name (with ``prefix``) and shape fit ``model``."""
    own = model.state_dict()
    report = LoadReport(source)
    fitting = {}
    for key, value in state_dict.items():
        name = prefix + key
        if name not in own:
            report.unexpected.append(key)
        elif tuple(own[name].shape) != tuple(value.shape):
            report.mismatched.append(f"{name} {tuple(value.shape)}->{tuple(own[name].shape)}")
        else:
            fitting[name] = value
    model.load_state_dict(fitting, strict=False)
    report.loaded = sorted(fitting)
    report.missing = [k for k in own if k not in fitting]
    return report


def _read_file(path: str) -> dict[str, torch.Tensor]:
    p = Path(path)
    if not p.is_file():
        raise MertoolError(
            f"--pretrained {path}: no such file",
            hint="give 'imagenet' or the path of a state dict saved with torch.save",
        )
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MertoolError(
            f"--pretrained {path}: not a readable torch state dict ({exc})",
            hint="save weights with torch.save(model.state_dict(), FILE)",
        ) from exc
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise MertoolError(
            f"--pretrained {path}: holds no state dict of tensors",
            hint="save weights with torch.save(model.state_dict(), FILE)",
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def apply_pretrained(model: nn.Module, pretrained: str | None) -> LoadReport | None:
    """Load ``pretrained`` ('imagenet', a file, or None for nothing) into ``model``; report on stderr."""
    if pretrained in (None, "", "none"):
        return None
    if pretrained == "imagenet":
        trunks = getattr(model, "imagenet_trunks", ())
        if not trunks:
            raise MertoolError(
                f"{type(model).__name__} has no torchvision ResNet/ResNeXt trunk for ImageNet weights",
                hint="drop --pretrained imagenet, or give a state-dict file",
            )
        report = None
        for arch, prefix in trunks:
            sd, path = imagenet_state_dict(arch)
            part = load_into(model, sd, f"{arch} ImageNet ({path})", prefix)
            if report is None:
                report = part
            else:
                report.source += f" + {part.source}"
                report.loaded += part.loaded
                report.unexpected += part.unexpected
                report.mismatched += part.mismatched
                done = set(part.loaded)
                report.missing = [k for k in report.missing if k not in done]
    else:
        report = load_into(model, _read_file(pretrained), pretrained)
    from mertool.console import info

    info(f"pretrained: {report.summary()}")
    model.pretrained_report = report
    return report
