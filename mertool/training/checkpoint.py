"""The model file: weights plus everything prediction needs, in one ``torch.save`` dict.

Keys (format ``mertool-model``, version 1)::

    format, format_version, mertool_version, created, command
    arch, options, num_classes        build_model(arch, num_classes, **options); options holds every
                                      option, defaults included, so a later change of a default
                                      leaves the file's model as it was trained (an option added
                                      after the file was written takes its ``legacy`` value)
    classes, label_map                class order of the logits
    preprocessing                     inputs, input_size [H, W], channels, three_frames,
                                      normalization {mode, stats}, stage (flow / crop-rois),
                                      stage_params {stage: params of the file it trained on}
    config                            the resolved RunConfig (fit settings, augment, preset, ...)
    history, best_epoch, selected_on  per-epoch training record and which epoch was kept
    seed, trained_on                  seed; the sample file (path, sha256), ids and subjects used
    state_dict                        the weights (CPU tensors)

Only plain types and tensors are stored, so loading uses ``torch.load(weights_only=True)``: a
model file cannot run code. Loading refuses a file that is not a mertool model file (or has
another format version) with a message saying what it is.
"""

from __future__ import annotations

import datetime as _dt
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mertool import __version__
from mertool.errors import MertoolError

MODEL_FORMAT = "mertool-model"
MODEL_FORMAT_VERSION = 1


class ModelMeta:
    """What a model file says about its model, read from its ``meta`` dict (shared by the
    ``.pt`` model file and its ONNX export)."""

    meta: dict[str, Any]

    @property
    def arch(self) -> str:
        return self.meta["arch"]

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def preprocessing(self) -> dict[str, Any]:
        return self.meta["preprocessing"]


@dataclass
class ModelFile(ModelMeta):
    path: Path
    meta: dict[str, Any]  # everything but the weights
    state_dict: dict[str, Any]

    def build(self, device: str = "cpu"):
        """The model with its weights, in eval mode."""
        from mertool.models.registry import build_model, model_spec

        options = model_spec(self.arch).file_options(self.meta["options"])
        model = build_model(self.arch, num_classes=int(self.meta["num_classes"]), **options)
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()


def model_bytes(model, meta: dict[str, Any]) -> bytes:
    """The model file's bytes: ``meta`` + the model's weights (CPU tensors), as :func:`save_model`
    writes them; for a fold computed in another process, written by the driver."""
    import io

    import torch

    blob = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "mertool_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **meta,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def save_model(path: str | Path, model, meta: dict[str, Any]) -> Path:
    """Write ``meta`` + the model's weights atomically (temp file + rename)."""
    from mertool.store.json_files import write_bytes_atomic

    path = Path(path)
    write_bytes_atomic(path, model_bytes(model, meta))
    return path


def load_model(path: str | Path) -> ModelFile:
    """Read a model file written by :func:`save_model`; refuse anything else clearly."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise MertoolError(
            f"{path}: no such model file",
            hint="train one with: mertool train FLOW.h5 --arch NAME -o MODEL.pt",
        )
    hint = "give a model file written by 'mertool train' (or eval-loso --save-models)"
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise MertoolError(f"{path} is not a mertool model file (not a PyTorch archive)", hint=hint)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        OSError,
    ) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise MertoolError(f"{path} is not a mertool model file ({first[:160]})", hint=hint) from None
    if not isinstance(blob, dict) or blob.get("format") != MODEL_FORMAT:
        what = "a PyTorch file" + (f" with keys {sorted(blob)[:6]}" if isinstance(blob, dict) else "")
        raise MertoolError(f"{path} is {what} but not a mertool model file", hint=hint)
    if blob.get("format_version") != MODEL_FORMAT_VERSION:
        raise MertoolError(
            f"{path} is model format version {blob.get('format_version')} (mertool "
            f"{blob.get('mertool_version', '?')}); this mertool reads version {MODEL_FORMAT_VERSION}",
            hint="retrain the model with this version of mertool",
        )
    state = blob.pop("state_dict")
    return ModelFile(path, blob, state)
