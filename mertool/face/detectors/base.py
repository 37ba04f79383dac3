"""The face-detector protocol and the registry that builds a detector by name.

A detector is any object with::

    name: str
    detect(image) -> list[(box, score)]

``image`` is uint8 RGB (H, W, 3) or gray (H, W); each ``box`` is float32 (4,) ``x0, y0, x1, y1``
in the image's pixels and ``score`` a float (higher = more confident; scales differ between
backends). The list is sorted best first and may be empty.

Backends register a factory ``factory(weights: tuple[Path, ...], **options) -> Detector`` with
:func:`register_detector`; :func:`get_detector` checks the weights argument (missing file, wrong
format) before building, so a user mistake stops with a clear message instead of a traceback deep
inside dlib, OpenCV or ultralytics.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mertool.errors import MertoolError

Detection = tuple[np.ndarray, float]

#: Backend modules under mertool.face.detectors, imported on first use; each registers itself.
BACKEND_MODULES = ("dlib_hog", "dlib_cnn", "yolo", "opencv_dnn")
#: Names the CLI offers, in help order (the default first).
DETECTOR_NAMES = ("dlib-hog", "dlib-cnn", "yolo", "opencv-dnn")


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    factory: Callable[..., Detector]
    needs_weights: bool  # True: --weights is required
    suffixes: tuple[str, ...]  # accepted weights-file suffixes (empty: any, or none taken)
    description: str


_REGISTRY: dict[str, DetectorSpec] = {}


def register_detector(
    name: str, *, needs_weights: bool = False, suffixes: tuple[str, ...] = (), description: str = ""
) -> Callable[[Callable[..., Detector]], Callable[..., Detector]]:
    """Decorator registering ``factory(weights, **options) -> Detector`` under ``name``."""

    def deco(factory: Callable[..., Detector]) -> Callable[..., Detector]:
        _REGISTRY[name] = DetectorSpec(name, factory, needs_weights, tuple(suffixes), description)
        return factory

    return deco


def _load_backends() -> None:
    for module in BACKEND_MODULES:
        importlib.import_module(f"mertool.face.detectors.{module}")


def detectors() -> dict[str, DetectorSpec]:
    _load_backends()
    return dict(_REGISTRY)


def sort_detections(found: list[Detection]) -> list[Detection]:
    """Best first; boxes as float32 (4,)."""
    out = [(np.asarray(b, np.float32).reshape(4), float(s)) for b, s in found]
    return sorted(out, key=lambda item: -item[1])


def check_weights(spec: DetectorSpec, weights: str | Path | None) -> tuple[Path, ...]:
    """The weights file(s), checked: present when needed, existing files of an accepted format.

    ``weights`` is one path, or ``MODEL,CONFIG`` (two paths, comma-separated) for backends whose
    models come in two files (OpenCV DNN's Caffe and TensorFlow models).
    """
    if weights is None or str(weights).strip() == "":
        if spec.needs_weights:
            raise MertoolError(
                f"the {spec.name} detector needs a model file",
                hint=f"give it with --weights FILE ({', '.join(spec.suffixes)})",
            )
        return ()
    paths = tuple(Path(part.strip()) for part in str(weights).split(",") if part.strip())
    main = paths[0]
    if spec.suffixes and main.suffix.lower() not in spec.suffixes:
        shown = repr(main.suffix) if main.suffix else "a file without a suffix"
        raise MertoolError(
            f"{main}: the {spec.name} detector takes {', '.join(spec.suffixes)} files, not {shown}",
            hint=f"give a {spec.name} model file with --weights, or pick the matching --detector",
        )
    for path in paths:
        if not path.is_file():
            bare = path.parent == Path(".")
            raise MertoolError(
                f"weights file not found: {path}"
                + (" (mertool never downloads weights: a bare name must be a file here)" if bare else ""),
                hint="give the path of a model file on this machine",
            )
    return paths


def get_detector(name: str, weights: str | Path | None = None, **options: Any) -> Detector:
    """Build the detector ``name`` (``dlib-hog``, ``dlib-cnn``, ``yolo``, ``opencv-dnn``)."""
    specs = detectors()
    if name not in specs:
        raise MertoolError(f"unknown face detector {name!r}", hint=f"one of: {', '.join(DETECTOR_NAMES)}")
    spec = specs[name]
    return spec.factory(check_weights(spec, weights), **options)
