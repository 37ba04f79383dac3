"""Train a face detector of paper 000 with ultralytics' own trainer, offline.

Model names (see :data:`VARIANTS`): ``yolov8s-face`` (the baseline), ``yolov8s-c2f-star``,
``yolov8s-c2f-star-cbam``, ``yolov8s-c2f-star-caa``; the letter after ``yolov8`` picks
ultralytics' scale (``yolov8n-c2f-star-cbam`` is the same network at YOLOv8n's depth and width).
A path to a model YAML or to a local ``.pt`` (to fine-tune) works too.

Offline rules: nothing is downloaded. Training starts from random weights unless ``pretrained``
names a local ``.pt``; a bare pretrained name such as ``yolov8s.pt`` that is not a file here is
refused with a message (ultralytics would try to download it). On CUDA, ultralytics' AMP check
would download a model to compare against; we skip that check (AMP stays as ``amp`` says).
Ultralytics' plots are off by default (they cost time and need matplotlib fonts).

Checkpoint selection: ultralytics keeps ``best.pt`` by its fitness on the data.yaml's ``val``
split and stops early on it. ``detector prepare`` makes that split a holdout of WIDER *train*;
WIDER val is the ``test`` split only ``detector eval`` scores. :func:`train` refuses a data.yaml
whose ``val`` is its ``test`` (or an older prepare's, whose ``val`` was WIDER val): DESIGN.md §3,
never select on the test data.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mertool.detector import CFG_DIR
from mertool.errors import MertoolError

#: model name -> (YAML file shipped in mertool/detector/cfg, what it is)
VARIANTS: dict[str, tuple[str, str]] = {
    "yolov8s-face": ("yolov8s-face.yaml", "YOLOv8s baseline (paper 000 Table 2 row 1)"),
    "yolov8s-c2f-star": ("yolov8s-c2f-star.yaml", "+ Star_Block in every C2f (Table 2 row 2)"),
    "yolov8s-c2f-star-cbam": ("yolov8s-c2f-star-cbam.yaml", "+ Star_Block + CBAM (Table 2 row 3)"),
    "yolov8s-c2f-star-caa": (
        "yolov8s-c2f-star-caa.yaml",
        "+ Star_Block + CAA (Table 4, yolov8s-C2f-Star-CAA)",
    ),
}
DEFAULT_MODEL = "yolov8s-c2f-star-cbam"
_NAME_RE = re.compile(r"^yolov8([nsmlx])-(face|c2f-star|c2f-star-cbam|c2f-star-caa)(\.yaml)?$")

#: ultralytics' metric keys -> ours
METRIC_KEYS = {
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "map50",
    "metrics/mAP50-95(B)": "map50_95",
}


def offline_weights_error(name: str) -> MertoolError:
    return MertoolError(
        f"{name!r} is not a file here: pretrained ultralytics weights by name are downloaded from the "
        "internet, and mertool runs offline (YOLO_OFFLINE=1), so nothing was downloaded",
        hint=(
            "train from scratch with a model name (mertool detector models lists them), or download the "
            ".pt on a machine with internet access and give its path"
        ),
    )


def resolve_model(name: str | Path, workdir: Path | None = None) -> Path:
    """The YAML (or local .pt) file for a model name, a YAML path or a weights path.

    A name at another scale than the shipped ``s`` (``yolov8n-c2f-star``) is written as a YAML copy
    named after it into ``workdir`` (ultralytics reads the scale from the file name).
    Raises :class:`MertoolError` for unknown names and for ``.pt`` names that are not local files.
    """
    text = str(name)
    path = Path(text)
    if text.endswith(".pt"):
        if not path.is_file():
            raise offline_weights_error(text)
        return path
    if text.endswith((".yaml", ".yml")) and path.is_file():
        return path
    m = _NAME_RE.match(path.name if text.endswith(".yaml") else text)
    if m is None:
        raise MertoolError(
            f"unknown detector model {text!r}",
            hint=f"one of {', '.join(VARIANTS)} (or yolov8n-..., a model .yaml, a local .pt)",
        )
    scale, variant = m.group(1), m.group(2)
    shipped = CFG_DIR / VARIANTS[f"yolov8s-{variant}"][0]
    if scale == "s":
        return shipped
    target = (workdir or Path.cwd()) / f"yolov8{scale}-{variant}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    return target


@dataclass
class TrainResult:
    run_dir: Path
    best: Path
    last: Path
    #: precision, recall, map50, map50_95 of best.pt on the selection split (data.yaml val: the holdout)
    metrics: dict[str, float] = field(default_factory=dict)
    model: str = ""
    epochs: int = 0
    seconds: float = 0.0
    selected_on: str = ""  # the split ultralytics chose best.pt on (data.yaml val)


@contextlib.contextmanager
def _no_amp_download(amp: bool) -> Iterator[None]:
    """Replace ultralytics' AMP check (it downloads a model on CUDA) by the user's choice."""
    import ultralytics.engine.trainer as trainer_mod

    original = trainer_mod.check_amp

    def check_amp(model) -> bool:
        if next(model.parameters()).device.type != "cuda":
            return original(model)  # returns False at once on CPU/MPS, downloads nothing
        return bool(amp)

    trainer_mod.check_amp = check_amp
    try:
        yield
    finally:
        trainer_mod.check_amp = original


@contextlib.contextmanager
def ultralytics_output() -> Iterator[None]:
    """Send ultralytics' prints and progress bars to stderr (stdout is for data); quiet when mertool is."""
    import logging

    from mertool.console import is_quiet
    from mertool.detector import logs_to_stderr

    logs_to_stderr()
    logger = logging.getLogger("ultralytics")
    level = logger.level
    if is_quiet():
        logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        logger.setLevel(level)


def resolve_device(device: str) -> str:
    """``auto`` -> the first CUDA GPU when there is one, else ``cpu``; anything else unchanged."""
    if str(device) != "auto":
        return str(device)
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def check_data(data: str | Path) -> Path:
    path = Path(data)
    if path.is_dir() and (path / "data.yaml").is_file():
        path = path / "data.yaml"
    if not path.is_file():
        raise MertoolError(
            f"{data}: no such dataset file",
            hint="give the data.yaml written by 'mertool detector prepare' (or its folder)",
        )
    return path


def train(
    data: str | Path,
    out: str | Path,
    model: str | Path = DEFAULT_MODEL,
    epochs: int = 100,
    imgsz: int = 640,
    batch: int = 16,
    device: str = "cpu",
    workers: int = 0,
    seed: int = 0,
    pretrained: str | Path | None = None,
    plots: bool = False,
    patience: int = 100,
    amp: bool = True,
    overrides: dict | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` (a data.yaml) into ``out`` (``out/weights/best.pt``, ``last.pt``).

    ``overrides`` are passed to ultralytics' trainer as is (``lr0``, ``mosaic``, ``cache``, ...).
    Returns the paths and the precision / recall / mAP@0.5 / mAP@0.5:0.95 of ``best.pt`` on the
    selection split (data.yaml ``val``, held out of WIDER train; not a test score).
    """
    import time

    from mertool.detector.prepare import check_selection
    from mertool.detector.registration import register

    data = check_data(data)
    check_selection(data)
    device = resolve_device(device)
    out = Path(out).resolve()
    if pretrained is not None and not Path(pretrained).is_file():
        raise offline_weights_error(str(pretrained))
    cfg = resolve_model(model, workdir=out)
    register()
    from ultralytics import YOLO

    args = dict(
        data=str(data),
        epochs=int(epochs),
        imgsz=int(imgsz),
        batch=int(batch),
        device=device,
        workers=int(workers),
        seed=int(seed),
        deterministic=True,
        project=str(out.parent),
        name=out.name,
        exist_ok=True,
        # a local .pt (--pretrained, or the model itself) seeds the weights; False: random weights
        pretrained=str(pretrained)
        if pretrained is not None
        else (str(cfg) if cfg.suffix == ".pt" else False),
        plots=bool(plots),
        patience=int(patience),
        amp=bool(amp),
        verbose=True,
    )
    args.update(overrides or {})
    start = time.perf_counter()
    with ultralytics_output(), _no_amp_download(amp):
        yolo = YOLO(str(cfg))
        yolo.train(**args)
    trainer = yolo.trainer
    metrics = {ours: float(trainer.metrics.get(theirs, float("nan"))) for theirs, ours in METRIC_KEYS.items()}
    save_dir = Path(trainer.save_dir)
    val = trainer.data.get("val") if isinstance(trainer.data, dict) else None
    return TrainResult(
        run_dir=save_dir,
        best=Path(trainer.best),
        last=Path(trainer.last),
        metrics=metrics,
        model=str(model),
        epochs=int(epochs),
        seconds=time.perf_counter() - start,
        selected_on=str(val or ""),
    )
