"""The onset -> apex -> offset time course of one micro-expression.

A clip of ``T`` frames (the annotated onset is its first frame, the annotated offset its last)
holds a few still frames, a raised-cosine rise to the apex, a slower raised-cosine fall, and a
few still frames again::

    a(i) = 0                                   i <= s            (neutral lead-in)
    a(i) = (1 - cos(pi (i - s) / (k - s))) / 2 s < i <= k        (rise: onset -> apex)
    a(i) = (1 + cos(pi (i - k) / (e - k))) / 2 k < i < e         (fall: apex -> offset)
    a(i) = 0                                   i >= e            (neutral tail)

``a`` is exactly 1 at the apex ``k`` and below 1 everywhere else, so the apex is the unique
frame of largest displacement. Micro-expressions last under 500 ms (CASME II's selection rule),
so the whole clip is drawn under that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Default clip duration range, milliseconds (the whole clip, onset frame to offset frame).
DURATION_MS = (180.0, 320.0)
MAX_DURATION_MS = 500.0


@dataclass(frozen=True)
class TimeCourse:
    """Frame indices (0-based, within the clip) of one clip's movement."""

    n_frames: int
    start: int  # last still frame before the movement (a = 0)
    apex: int  # a = 1
    end: int  # first still frame after the movement (a = 0)

    def profile(self) -> np.ndarray:
        """(T,) float32 intensity a(i) in [0, 1]."""
        i = np.arange(self.n_frames, dtype=np.float64)
        s, k, e = self.start, self.apex, self.end
        a = np.zeros(self.n_frames)
        rise = (i > s) & (i <= k)
        a[rise] = 0.5 * (1 - np.cos(np.pi * (i[rise] - s) / (k - s)))
        fall = (i > k) & (i < e)
        a[fall] = 0.5 * (1 + np.cos(np.pi * (i[fall] - k) / (e - k)))
        return a.astype(np.float32)


def draw_timecourse(
    fps: float, rng: np.random.Generator, duration_ms: tuple[float, float] = DURATION_MS
) -> TimeCourse:
    """A random time course at ``fps``: total duration in ``duration_ms`` (capped at 500 ms),
    2+ still frames first, rise over 20-55 % of the movement (the apex is not simply the middle
    frame), a short still tail."""
    lo, hi = (min(v, MAX_DURATION_MS) for v in duration_ms)
    n = max(8, int(round(rng.uniform(lo, hi) * fps / 1000.0)))
    n = min(n, int(MAX_DURATION_MS * fps / 1000.0))
    start = max(1, int(round(rng.uniform(0.04, 0.12) * n)))
    end = n - 1 - int(round(rng.uniform(0.0, 0.08) * n))
    apex = start + max(1, int(round(rng.uniform(0.2, 0.55) * (end - start))))
    apex = min(apex, end - 1)
    return TimeCourse(n, start, apex, end)
