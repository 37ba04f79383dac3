"""Evaluate a trained face detector: ultralytics' validation metrics, and WIDER FACE's easy /
medium / hard average precision where the official evaluation files are present.

1. Precision, recall, mAP@0.5 and mAP@0.5:0.95 on the data.yaml's **test** split (WIDER val, as
   ``detector prepare`` writes it), from ultralytics' own validator (``YOLO(weights).val``): the
   numbers paper 000 reports. Never on ``val``, the holdout of WIDER train ``best.pt`` was chosen
   on (DESIGN.md §3); a data.yaml without a test split, or whose test split is its val split, is
   refused.
2. WIDER FACE easy / medium / hard AP, our implementation of the standard evaluation, when the
   WIDER root (recorded in data.yaml by ``prepare``, or given) holds
   ``eval_tools/ground_truth/wider_{face,easy,medium,hard}_val.mat``:

   * ground truth = ``face_bbx_list`` of ``wider_face_val.mat`` (every box of every val image);
     a subset counts only the faces its ``gt_list`` names (1-based MATLAB indices);
   * each image's detections, best score first, are matched PASCAL-VOC style: a detection takes
     the ground-truth box it overlaps most; IoU >= 0.5 with a counted, not yet matched face is a
     true positive; with a face the subset does not count, the detection is ignored (neither true
     nor false: small or invalid faces neither reward nor punish a detector); anything else is a
     false positive;
   * AP = area under the precision-recall curve of all detections pooled over images, with the
     precision envelope made monotone (VOC's all-point interpolation); recall is over the counted faces.

   Boxes are continuous ``[x, x + w)``: IoU differs slightly from the MATLAB code's ``+1`` pixel
   convention on tiny faces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mertool.errors import MertoolError

SUBSETS = ("easy", "medium", "hard")


# --- pure functions on arrays -------------------------------------------------------------------


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (M, N) between boxes ``a`` (M, 4) and ``b`` (N, 4), both x, y, w, h."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None)
    area_b = np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_image(pred: np.ndarray, gt: np.ndarray, keep: np.ndarray, iou: float = 0.5) -> np.ndarray:
    """Label each detection of one image: 1 true positive, 0 false positive, -1 ignored.

    ``pred`` (M, 5) x, y, w, h, score; ``gt`` (N, 4) x, y, w, h; ``keep`` 0-based indices of the
    faces that count. Returns int8 (M,) in ``pred``'s order.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 5)
    labels = np.zeros(len(pred), dtype=np.int8)
    if len(pred) == 0 or len(gt) == 0:
        return labels
    counted = np.zeros(len(gt), dtype=bool)
    counted[np.asarray(keep, dtype=np.int64)] = True
    matched = np.zeros(len(gt), dtype=bool)
    overlaps = iou_xywh(pred[:, :4], gt)
    for i in np.argsort(-pred[:, 4], kind="stable"):
        j = int(np.argmax(overlaps[i]))
        if overlaps[i, j] < iou:
            continue  # false positive
        if not counted[j]:
            labels[i] = -1
        elif not matched[j]:
            matched[j] = True
            labels[i] = 1
    return labels


def average_precision(scores: np.ndarray, labels: np.ndarray, n_positives: int) -> float:
    """VOC all-point AP of pooled detections (``labels`` 1 TP / 0 FP / -1 ignored) over ``n_positives`` faces."""
    if n_positives <= 0:
        return float("nan")
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels)
    use = labels >= 0
    order = np.argsort(-scores[use], kind="stable")
    tp = labels[use][order].astype(np.float64)
    if tp.size == 0:
        return 0.0
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_positives
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def subset_ap(
    predictions: dict[tuple[str, str], np.ndarray],
    gt_boxes: dict[tuple[str, str], np.ndarray],
    keep: dict[tuple[str, str], np.ndarray],
    iou: float = 0.5,
) -> float:
    """AP of one WIDER subset; images without predictions count as having no detections."""
    scores, labels, n_pos = [], [], 0
    for key, gt in gt_boxes.items():
        k = keep.get(key, np.zeros(0, np.int64))
        k = k[(k >= 0) & (k < len(gt))]
        n_pos += len(k)
        pred = predictions.get(key)
        if pred is None or len(pred) == 0:
            continue
        labels.append(match_image(pred, gt, k, iou))
        scores.append(np.asarray(pred, np.float64).reshape(-1, 5)[:, 4])
    if not scores:
        return 0.0 if n_pos else float("nan")
    return average_precision(np.concatenate(scores), np.concatenate(labels), n_pos)


# --- running a model ----------------------------------------------------------------------------


@dataclass
class EvalResult:
    weights: Path
    data: Path
    precision: float
    recall: float
    map50: float
    map50_95: float
    images: int
    wider: dict[str, float] | None = None  # easy/medium/hard AP, when eval_tools is present
    notes: list[str] = field(default_factory=list)
    split: str = "test"  # the data.yaml split scored

    def as_dict(self) -> dict:
        return {
            "weights": str(self.weights),
            "data": str(self.data),
            "precision": self.precision,
            "recall": self.recall,
            "map50": self.map50,
            "map50_95": self.map50_95,
            "images": self.images,
            "split": self.split,
            "wider_ap": self.wider,
            "notes": self.notes,
        }


def load_weights(weights: str | Path):
    """An ultralytics YOLO model from a local ``.pt`` (our modules registered first)."""
    from mertool.detector.registration import register
    from mertool.detector.train import offline_weights_error

    if not Path(weights).is_file():
        if str(weights).endswith(".pt"):
            raise offline_weights_error(str(weights))
        raise MertoolError(
            f"{weights}: no such weights file", hint="give a .pt from a training run (weights/best.pt)"
        )
    register()
    from ultralytics import YOLO

    try:
        return YOLO(str(weights))
    except Exception as exc:  # noqa: BLE001 - ultralytics raises many kinds for a bad file
        raise MertoolError(
            f"{weights} could not be loaded as an ultralytics YOLO model ({exc.__class__.__name__}: {exc})",
            hint="give a .pt saved by ultralytics (a training run's weights/best.pt)",
        ) from exc


def predict_boxes(
    model, images: list[Path], imgsz: int, device: str, conf: float = 0.001, batch: int = 8
) -> dict[Path, np.ndarray]:
    """Detections per image: float (M, 5) x, y, w, h, score in the image's pixels."""
    out: dict[Path, np.ndarray] = {}
    from mertool.console import track

    for start in track(range(0, len(images), batch), "detect (WIDER val)"):
        chunk = [str(p) for p in images[start : start + batch]]
        results = model.predict(chunk, imgsz=imgsz, device=device, conf=conf, max_det=1000, verbose=False)
        for path, res in zip(chunk, results):
            b = res.boxes
            if b is None or len(b) == 0:
                out[Path(path)] = np.zeros((0, 5))
                continue
            xyxy = b.xyxy.cpu().numpy().astype(np.float64)
            score = b.conf.cpu().numpy().astype(np.float64)
            out[Path(path)] = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2], score])
    return out


def wider_subset_aps(
    model, wider_root: Path, imgsz: int, device: str, conf: float = 0.001
) -> tuple[dict[str, float], list[str]]:
    """Easy / medium / hard AP of ``model`` on the WIDER val images named by eval_tools/ground_truth."""
    from mertool.datasets.widerface import eval_ground_truth, images_dir, mat_boxes, mat_subset

    folder = eval_ground_truth(wider_root)
    notes: list[str] = []
    gt = mat_boxes(folder / "wider_face_val.mat")
    img_dir = images_dir(wider_root, "val")
    paths = {key: img_dir / key[0] / f"{key[1]}.jpg" for key in gt}
    present = {k: p for k, p in paths.items() if p.is_file()}
    if len(present) < len(paths):
        notes.append(
            f"{len(paths) - len(present)} val image(s) named by wider_face_val.mat are missing under {img_dir}"
        )
    found = predict_boxes(model, list(present.values()), imgsz, device, conf)
    predictions = {k: found[p] for k, p in present.items()}
    aps = {s: subset_ap(predictions, gt, mat_subset(folder / f"wider_{s}_val.mat")) for s in SUBSETS}
    return aps, notes


def count_split_images(data: Path, split: str = "test") -> int:
    """Number of image files in one split of an ultralytics data.yaml."""
    from ultralytics.data.utils import IMG_FORMATS, check_det_dataset

    value = check_det_dataset(str(data)).get(split)
    folders = value if isinstance(value, list) else [value] if value else []
    n = 0
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            n += sum(1 for p in folder.rglob("*") if p.suffix[1:].lower() in IMG_FORMATS)
    return n


def evaluate(
    weights: str | Path,
    data: str | Path,
    imgsz: int = 640,
    batch: int = 16,
    device: str = "cpu",
    wider_root: str | Path | None = None,
    wider: bool = True,
    conf: float = 0.001,
) -> EvalResult:
    """Score ``weights`` on the test split of ``data`` (a prepare data.yaml); see the module doc."""
    from mertool.datasets.widerface import eval_ground_truth
    from mertool.detector.prepare import check_selection
    from mertool.detector.train import METRIC_KEYS, check_data, resolve_device, ultralytics_output

    data = check_data(data)
    doc = check_selection(data)
    if not doc.get("test"):
        raise MertoolError(
            f"{data} has no test split: 'detector eval' scores only images never used to train or to "
            "choose the checkpoint (its val split chose best.pt)",
            hint="prepare with WIDER val present (mertool detector prepare writes it as the test split), "
            "or add a 'test:' entry",
        )
    device = resolve_device(device)
    model = load_weights(weights)
    notes: list[str] = []
    with ultralytics_output():
        metrics = model.val(
            data=str(data),
            imgsz=imgsz,
            batch=batch,
            device=device,
            split="test",
            plots=False,
            workers=0,
            conf=conf,
        )
        values = {
            ours: float(metrics.results_dict.get(theirs, float("nan")))
            for theirs, ours in METRIC_KEYS.items()
        }
        images = count_split_images(data, "test")
        aps = None
        if wider:
            root = wider_root or doc.get("widerface_root")
            if root and eval_ground_truth(Path(root)) is not None:
                aps, more = wider_subset_aps(model, Path(root), imgsz, device, conf)
                notes += more
            else:
                where = (
                    f"under {root}" if root else "(no WIDER root recorded in data.yaml; give --wider-root)"
                )
                notes.append(
                    f"no eval_tools/ground_truth/wider_*_val.mat {where}: easy/medium/hard AP not computed"
                )
    return EvalResult(Path(weights), data, images=images, wider=aps, notes=notes, **values)
