"""The environment health check behind ``mertool doctor``, and the guards stages call at start-up.

Each check returns a :class:`Check` with what was found and, when something is wrong, the exact
command that repairs it. Stages call the ``require_*`` functions, which raise
:class:`~mertool.errors.EnvironmentProblem` carrying that same repair command, so a missing piece
stops a run with advice instead of a traceback.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mertool.errors import EnvironmentProblem

PIP = "python -m pip"
REPAIR_OPENCV = (
    f"{PIP} uninstall -y opencv-python opencv-python-headless && "
    f"{PIP} install --force-reinstall --no-deps opencv-contrib-python==<version in constraints.txt>"
    "   (or simply: make install)"
)

#: Where the project keeps ultralytics' settings and font (see :func:`configure_ultralytics`).
PROJECT_CACHE = Path(os.environ.get("MERTOOL_CACHE", Path.cwd() / ".cache"))


@dataclass
class Check:
    name: str
    ok: bool
    found: str
    repair: str | None = None
    optional: bool = False


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _import_check(module: str, dist: str, repair: str, optional: bool = False) -> Check:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is a finding here
        return Check(module, False, f"import failed: {exc.__class__.__name__}: {exc}", repair, optional)
    version = getattr(mod, "__version__", None) or _version(dist) or "?"
    return Check(module, True, str(version), None, optional)


def has_tvl1() -> bool:
    """True when OpenCV's contrib TV-L1 optical flow is importable."""
    try:
        import cv2

        return hasattr(cv2, "optflow") and hasattr(cv2.optflow, "DualTVL1OpticalFlow_create")
    except Exception:  # noqa: BLE001
        return False


def check_opencv() -> list[Check]:
    checks = [_import_check("cv2", "opencv-contrib-python", "make install")]
    if not checks[0].ok:
        return checks
    shadow = [d for d in ("opencv-python", "opencv-python-headless") if _version(d)]
    tvl1 = has_tvl1()
    found = "cv2.optflow.DualTVL1OpticalFlow_create present" if tvl1 else "TV-L1 missing"
    if shadow:
        found += f"; {', '.join(shadow)} installed beside opencv-contrib-python"
    checks.append(
        Check("opencv TV-L1", tvl1 and not shadow, found, None if tvl1 and not shadow else REPAIR_OPENCV)
    )
    return checks


def dlib_model_dir() -> Path | None:
    """Folder of the dlib model files shipped by the ``face-recognition-models`` package.

    The package's own module fails to import (it needs ``pkg_resources``), so it is located
    through its import spec without importing it.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    return folder if folder.is_dir() else None


DLIB_FILES = {
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "mmod": "mmod_human_face_detector.dat",
}


def dlib_model_path(kind: str) -> Path:
    """Path of a dlib model file (``landmarks68`` or ``mmod``); raises with the repair command."""
    folder = dlib_model_dir()
    name = DLIB_FILES[kind]
    if folder is None or not (folder / name).is_file():
        raise EnvironmentProblem(
            f"dlib model file {name} not found (it ships with the face-recognition-models package)",
            hint=f"{PIP} install face-recognition-models   (or: make install)",
        )
    return folder / name


def check_dlib_models() -> list[Check]:
    folder = dlib_model_dir()
    out = []
    for kind, name in DLIB_FILES.items():
        ok = folder is not None and (folder / name).is_file()
        out.append(
            Check(
                f"dlib {kind} model",
                ok,
                str(folder / name) if ok else "not found",
                None if ok else f"{PIP} install face-recognition-models",
            )
        )
    return out


def check_threads_and_gpu() -> list[Check]:
    out = [Check("cpu threads", True, f"{os.cpu_count()} logical cores")]
    try:
        import torch

        out.append(Check("torch threads", True, str(torch.get_num_threads())))
        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            out.append(Check("gpu", True, ", ".join(names), optional=True))
        else:
            out.append(Check("gpu", True, "none (CPU only)", optional=True))
    except Exception as exc:  # noqa: BLE001
        out.append(Check("gpu", False, f"torch unusable: {exc}", "make install", optional=True))
    return out


def run_checks() -> list[Check]:
    """Everything ``mertool doctor`` reports, in order."""
    checks = [
        _import_check("torch", "torch", f"{PIP} install torch==2.14.1 torchvision==0.29.1"),
        _import_check("torchvision", "torchvision", f"{PIP} install torch==2.14.1 torchvision==0.29.1"),
    ]
    checks += check_opencv()
    checks.append(_import_check("dlib", "dlib-bin", f"{PIP} install dlib-bin"))
    checks += check_dlib_models()
    checks.append(_import_check("ultralytics", "ultralytics", "make install", optional=True))
    checks.append(_import_check("h5py", "h5py", f"{PIP} install h5py"))
    checks.append(_import_check("skimage", "scikit-image", f"{PIP} install scikit-image"))
    checks.append(_import_check("sklearn", "scikit-learn", f"{PIP} install scikit-learn"))
    checks.append(_import_check("onnxruntime", "onnxruntime", f"{PIP} install onnxruntime", optional=True))
    checks += check_threads_and_gpu()
    return checks


# --- guards used by stages -------------------------------------------------------------------


def require_tvl1() -> None:
    """Stop with the repair command when TV-L1 is missing (ultralytics' opencv-python clash)."""
    if not has_tvl1():
        raise EnvironmentProblem(
            "OpenCV TV-L1 optical flow (cv2.optflow.DualTVL1OpticalFlow_create) is missing: "
            "opencv-python, pulled in by ultralytics, has overwritten opencv-contrib-python",
            hint=REPAIR_OPENCV,
        )


def require_module(module: str, dist: str | None = None) -> object:
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001
        raise EnvironmentProblem(
            f"cannot import {module}: {exc}", hint=f"{PIP} install {dist or module}   (or: make install)"
        ) from exc


def set_cv2_threads(n: int) -> None:
    """Set OpenCV's thread count explicitly (``import ultralytics`` resets it to 0)."""
    import cv2

    cv2.setNumThreads(int(n))


def configure_ultralytics() -> Path:
    """Make ultralytics work offline: no downloads, settings and font inside the project cache.

    Must run before ``import ultralytics``. Returns the config dir.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    cfg = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(PROJECT_CACHE / "ultralytics")))
    font_dir = cfg / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    font = font_dir / "Arial.ttf"
    if not font.exists():
        spec = importlib.util.find_spec("matplotlib")
        if spec and spec.submodule_search_locations:
            src = Path(list(spec.submodule_search_locations)[0]) / "mpl-data/fonts/ttf/DejaVuSans.ttf"
            if src.is_file():
                shutil.copyfile(src, font)
    return cfg
