"""Spotting expressions in a long video: feature difference curves and the intervals they give.

The MEGC baseline family (Moilanen et al. 2014; Li et al. 2018, the MEGC 2019-2022 baseline):
for every frame ``t`` of a video, compare the current frame's features with the average of the
frames ``k`` before and ``k`` after it,

    F(t) = mean over the M most different blocks of  d(f_t, (f_{t-k} + f_{t+k}) / 2),

where ``f`` are per-block features of the aligned face (see :mod:`mertool.motion.spot_features`:
LBP histograms compared by chi-squared, or optical flow) and ``k`` is half the expected length of
the expression. A movement that rises and falls within about ``2k`` frames makes ``F`` peak at its
apex; a slow change (a head turn, a change of light) is nearly linear over ``2k`` frames and
cancels. The contrasted curve

    C(t) = max(0, F(t) - (F(t-k) + F(t+k)) / 2)

removes what the window's neighbours share, and frames whose ``C`` is a local maximum above the
threshold relative to the video's own statistics,

    T = mean(C) + p (max(C) - mean(C)),   or   T = median(C) + z * 1.4826 MAD(C)  (``robust``),

are the apexes of spotted intervals. An interval runs from the apex back to where ``F`` fell to
``fall`` of the peak's height above the video's median (``onset``) and on to where it falls again
(``offset``), each end limited to ``2k`` frames from the apex; ``--interval fixed`` gives the
baseline's ``[t - k, t + k]``.

The extent of a movement is better read off a curve that does not depend on the window: the
displacement from the neutral face ``D(t)`` (:func:`mertool.motion.spot_features.neutral_displacement`)
is 0 at rest and stays up for as long as an expression holds. :func:`extent` takes the highest
``D`` within ``search`` frames of a spotted apex and runs out from it to where ``D`` falls to
``fall`` of its height above the video's median, and :func:`merge_movements` keeps each
movement once when both passes spotted it (their extents then overlap).

All functions are pure, on numpy arrays; frame indices are 0-based positions in the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THRESHOLDS = ("megc", "robust", "both")
INTERVALS = ("curve", "fixed")


def _shifted(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``x[t - k]`` and ``x[t + k]`` for every t, the ends repeating the first / last element."""
    n = len(x)
    idx = np.arange(n)
    return x[np.clip(idx - k, 0, n - 1)], x[np.clip(idx + k, 0, n - 1)]


def chi_squared(a: np.ndarray, b: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """Chi-squared distance ``sum (a - b)^2 / (a + b)`` over the last axis (histograms)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return ((a - b) ** 2 / (a + b + eps)).sum(axis=-1)


def histogram_difference(features: np.ndarray, k: int) -> np.ndarray:
    """(T, B) per-block chi-squared distance between each frame's histograms and the mean of the
    histograms ``k`` frames before and after. ``features``: (T, B, D) non-negative histograms."""
    if k < 1:
        raise ValueError("k must be at least 1")
    before, after = _shifted(np.asarray(features, np.float64), k)
    return chi_squared(features, (before + after) / 2.0)


def top_mean(block_values: np.ndarray, fraction: float = 1 / 3) -> np.ndarray:
    """(T,) mean of the largest ``fraction`` of each row of (T, B) (at least one block)."""
    v = np.asarray(block_values, np.float64)
    m = max(1, int(round(fraction * v.shape[1])))
    return np.sort(v, axis=1)[:, -m:].mean(axis=1)


def contrast(f: np.ndarray, k: int) -> np.ndarray:
    """(T,) ``max(0, F(t) - (F(t-k) + F(t+k)) / 2)``."""
    before, after = _shifted(np.asarray(f, np.float64), k)
    return np.maximum(0.0, f - (before + after) / 2.0)


def threshold(c: np.ndarray, rule: str = "megc", p: float = 0.3, z: float = 6.0) -> float:
    """The spotting threshold on the contrasted curve ``c`` from the video's own statistics."""
    c = np.asarray(c, np.float64)
    if rule == "megc":
        return float(c.mean() + p * (c.max() - c.mean()))
    if rule == "both":
        return max(threshold(c, "megc", p, z), threshold(c[c > 0] if (c > 0).any() else c, "robust", p, z))
    if rule == "robust":
        med = float(np.median(c))
        mad = float(np.median(np.abs(c - med)))
        return med + z * 1.4826 * max(mad, 1e-12)
    raise ValueError(f"threshold rule {rule!r} is not one of {', '.join(THRESHOLDS)}")


def local_peaks(c: np.ndarray, level: float, min_distance: int) -> list[int]:
    """Indices of the largest values of ``c`` above ``level``, greedily, each at least
    ``min_distance`` frames from every one taken before it; returned in time order."""
    c = np.asarray(c, np.float64)
    order = np.argsort(-c, kind="stable")
    taken: list[int] = []
    for i in order:
        if c[i] <= level:
            break
        if all(abs(int(i) - j) >= min_distance for j in taken):
            taken.append(int(i))
    return sorted(taken)


def interval_around(
    f: np.ndarray, apex: int, k: int, fall: float = 0.5, reach: int | None = None
) -> tuple[int, int]:
    """``(onset, offset)`` around ``apex`` where ``f`` falls to ``fall`` of the peak's height
    above the curve's median, each end at most ``reach`` (default ``2k``) frames away and at
    least ``k // 2``."""
    f = np.asarray(f, np.float64)
    n = len(f)
    reach = 2 * k if reach is None else reach
    base = float(np.median(f))
    level = base + fall * (f[apex] - base)
    lo = apex
    while lo > 0 and apex - lo < reach and f[lo - 1] > level:
        lo -= 1
    hi = apex
    while hi < n - 1 and hi - apex < reach and f[hi + 1] > level:
        hi += 1
    lo = min(lo, max(0, apex - k // 2))
    hi = max(hi, min(n - 1, apex + k // 2))
    return lo, hi


@dataclass(frozen=True)
class Spot:
    """One spotted interval: frame positions (0-based) and the contrasted peak's score."""

    onset: int
    apex: int
    offset: int
    score: float
    kind: str = "micro"


def extent(
    d: np.ndarray,
    apex: int,
    search: int,
    fall: float = 0.2,
    reach: int | None = None,
    base: float | None = None,
    valid: np.ndarray | None = None,
) -> tuple[int, int, int]:
    """``(peak, onset, offset)`` of the movement at ``apex`` on a displacement curve ``d``.

    ``peak`` is the largest ``d`` within ``search`` frames of ``apex``; onset and offset are the
    last frames either side of it, contiguous with it, where ``d`` is above ``base + fall (d[peak]
    - base)`` (``base``: the median of ``d``), each at most ``reach`` frames from the peak (default:
    unbounded) and not on a frame without a face (``valid`` False).
    """
    d = np.asarray(d, np.float64)
    n = len(d)
    ok = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    a, b = max(0, apex - search), min(n - 1, apex + search)
    peak = a + int(np.argmax(np.where(ok[a : b + 1], d[a : b + 1], -np.inf)))
    base = float(np.median(d[ok])) if base is None else base
    level = base + fall * (d[peak] - base)
    reach = n if reach is None else reach
    lo = peak
    while lo > 0 and peak - lo < reach and ok[lo - 1] and d[lo - 1] > level:
        lo -= 1
    hi = peak
    while hi < n - 1 and hi - peak < reach and ok[hi + 1] and d[hi + 1] > level:
        hi += 1
    return peak, lo, hi


def run_peaks(d: np.ndarray, level: float, valid: np.ndarray | None = None) -> list[int]:
    """The position of the largest value of every run of consecutive frames where ``d`` is above
    ``level`` (frames without a face, ``valid`` False, break runs and never count)."""
    d = np.asarray(d, np.float64)
    above = d > level
    if valid is not None:
        above &= np.asarray(valid, bool)
    peaks = []
    t, n = 0, len(d)
    while t < n:
        if not above[t]:
            t += 1
            continue
        e = t
        while e + 1 < n and above[e + 1]:
            e += 1
        peaks.append(t + int(np.argmax(d[t : e + 1])))
        t = e + 1
    return peaks


def merge_movements(spots: list[Spot], heights: list[float], max_micro: int) -> list[Spot]:
    """One spot per movement: by decreasing ``heights`` (each spot's peak displacement), a spot
    whose interval overlaps a kept one by at least half of the shorter of the two is the same
    movement and dropped. A kept spot no longer than ``max_micro`` frames is micro, a longer one
    macro."""
    kept: list[Spot] = []
    for i in sorted(range(len(spots)), key=lambda i: -heights[i]):
        s = spots[i]
        length = s.offset - s.onset + 1
        same = False
        for o in kept:
            common = min(s.offset, o.offset) - max(s.onset, o.onset) + 1
            if common > 0 and common >= 0.5 * min(length, o.offset - o.onset + 1):
                same = True
                break
        if not same:
            kept.append(Spot(s.onset, s.apex, s.offset, s.score, "micro" if length <= max_micro else "macro"))
    return sorted(kept, key=lambda s: s.onset)


def spot_curve(
    f: np.ndarray,
    k: int,
    half: int | None = None,
    rule: str = "megc",
    p: float = 0.3,
    z: float = 6.0,
    interval: str = "curve",
    fall: float = 0.5,
    kind: str = "micro",
    valid: np.ndarray | None = None,
) -> tuple[list[Spot], np.ndarray, float]:
    """Spots from a feature-difference curve ``f`` (T,): ``(spots, contrasted curve, threshold)``.

    ``valid`` (T,) bool marks frames with a face; the curve is zeroed where a window reaches an
    invalid frame, so a lost face never makes a spot.
    """
    f = np.asarray(f, np.float64)
    c = contrast(f, k)
    if valid is not None:
        bad = ~np.asarray(valid, bool)
        if bad.any():
            # any frame within 2k of a gap compares against missing faces
            near = np.convolve(bad.astype(np.float64), np.ones(4 * k + 1), "same") > 0
            c = np.where(near, 0.0, c)
    if not len(c) or c.max() <= 0:
        return [], c, 0.0
    level = threshold(c[c > 0] if rule == "robust" else c, rule, p, z)
    spots = []
    for apex in local_peaks(c, level, min_distance=2 * k):
        if interval == "fixed":
            h = k if half is None else half
            lo, hi = max(0, apex - h), min(len(f) - 1, apex + h)
        else:
            lo, hi = interval_around(f, apex, k, fall)
        spots.append(Spot(lo, apex, hi, float(c[apex]), kind))
    return spots, c, level


def merge_kinds(micro: list[Spot], macro: list[Spot], max_micro: int) -> list[Spot]:
    """Micro and macro spots as one list, each movement once.

    The macro pass (a wide window) also peaks on a micro-expression, and the micro pass (a narrow
    window) on the rise and the fall of a macro-expression. A macro spot no longer than twice
    ``max_micro`` frames that holds a micro spot is that micro-expression (the micro spot is
    kept); otherwise the macro spot is kept and the micro spots inside it are dropped. A kept
    macro spot no longer than ``max_micro`` frames is reported as micro.
    """
    kept_micro = list(micro)
    out: list[Spot] = []
    for m in macro:
        inside = [s for s in kept_micro if m.onset <= s.apex <= m.offset]
        if inside and m.offset - m.onset + 1 <= 2 * max_micro:
            continue
        kept_micro = [s for s in kept_micro if s not in inside]
        kind = "micro" if m.offset - m.onset + 1 <= max_micro else "macro"
        out.append(Spot(m.onset, m.apex, m.offset, m.score, kind))
    for s in kept_micro:
        if any(not (s.offset < o.onset or s.onset > o.offset) for o in out):
            continue
        out.append(s)
    return sorted(out, key=lambda s: s.onset)
