"""Spotting evaluation by the MEGC protocol: spotted intervals against ground-truth intervals.

A spotted interval ``[onset, offset]`` (frames, both ends included) is a true positive when its
intersection over union with a ground-truth interval of the same video and the same kind (micro
or macro) is at least 0.5:

    IoU = |W ∩ G| / |W ∪ G|  (in frames)

Each ground-truth interval is matched at most once and each spotted interval at most once; pairs
are taken in order of decreasing IoU (ties: earlier ground truth first), so the matching is
one-to-one and does not depend on the order the intervals were given in. Counts are pooled over
videos (MEGC 2019-2022): TP, FP = spotted - TP, FN = ground truth - TP, and precision, recall and
F1 from the pooled counts, for micro, for macro and overall (both kinds' counts summed). A measure
with a zero denominator is None (no spotted interval: precision is undefined), never 0 by
convention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KINDS = ("micro", "macro")
IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Interval:
    """An interval of one video, frames ``onset..offset`` inclusive (``apex`` and ``score`` are
    carried along, not scored)."""

    video: str
    onset: int
    offset: int
    kind: str = "micro"
    apex: int | None = None
    score: float | None = None

    def __post_init__(self) -> None:
        if self.offset < self.onset:
            raise ValueError(f"{self.video}: interval {self.onset}-{self.offset} ends before it starts")
        if self.kind not in KINDS:
            raise ValueError(f"{self.video}: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1


def iou(a: Interval, b: Interval) -> float:
    """Intersection over union of two intervals in frames (both ends included)."""
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if inter <= 0:
        return 0.0
    return inter / (a.length + b.length - inter)


def match(
    spotted: list[Interval], truth: list[Interval], threshold: float = IOU_THRESHOLD
) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(spotted index, truth index, IoU)`` with IoU >= ``threshold`` between
    intervals of the same video and kind, greedily by decreasing IoU."""
    pairs = [
        (iou(w, g), gi, wi)
        for wi, w in enumerate(spotted)
        for gi, g in enumerate(truth)
        if w.video == g.video and w.kind == g.kind
    ]
    pairs = [p for p in pairs if p[0] >= threshold]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used_w: set[int] = set()
    used_g: set[int] = set()
    out: list[tuple[int, int, float]] = []
    for score, gi, wi in pairs:
        if wi in used_w or gi in used_g:
            continue
        used_w.add(wi)
        used_g.add(gi)
        out.append((wi, gi, score))
    return sorted(out)


def _prf(tp: int, n_spotted: int, n_truth: int) -> dict[str, Any]:
    fp, fn = n_spotted - tp, n_truth - tp
    precision = tp / n_spotted if n_spotted else None
    recall = tp / n_truth if n_truth else None
    f1 = 2 * tp / (n_spotted + n_truth) if (n_spotted + n_truth) else None  # = 2PR/(P+R)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def evaluate_spotting(
    spotted: Iterable[Interval], truth: Iterable[Interval], threshold: float = IOU_THRESHOLD
) -> dict[str, Any]:
    """MEGC spotting scores: pooled ``micro``, ``macro`` and ``overall`` counts and P/R/F1, the same
    per video (``videos``), and the matches (``matches``: spotted and truth intervals with IoU)."""
    spotted, truth = list(spotted), list(truth)
    matches = match(spotted, truth, threshold)
    tp_by: dict[tuple[str, str], int] = {}
    for wi, _gi, _s in matches:
        key = (spotted[wi].video, spotted[wi].kind)
        tp_by[key] = tp_by.get(key, 0) + 1

    def count(items: list[Interval], video: str | None, kind: str | None) -> int:
        return sum(
            1 for x in items if (video is None or x.video == video) and (kind is None or x.kind == kind)
        )

    def scores(video: str | None) -> dict[str, Any]:
        out = {}
        for kind in (*KINDS, None):
            tp = sum(
                n
                for (v, k), n in tp_by.items()
                if (video is None or v == video) and (kind is None or k == kind)
            )
            out[kind or "overall"] = _prf(tp, count(spotted, video, kind), count(truth, video, kind))
        return out

    videos = sorted({x.video for x in spotted} | {x.video for x in truth})
    return {
        "iou_threshold": threshold,
        **scores(None),
        "videos": {v: scores(v) for v in videos},
        "matches": [
            {"spotted": _record(spotted[wi]), "truth": _record(truth[gi]), "iou": round(s, 6)}
            for wi, gi, s in matches
        ],
    }


def _record(x: Interval) -> dict[str, Any]:
    return {"video": x.video, "onset": x.onset, "offset": x.offset, "kind": x.kind, "apex": x.apex}
