"""The difference image of paper 004 eq. 8: ``D(x, y) = |I_apex(x, y) - I_onset(x, y)|``."""

from __future__ import annotations

import numpy as np


def to_unit(image: np.ndarray) -> np.ndarray:
    """float32 intensities in 0..1 from uint8 (divided by 255) or float already in 0..1."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return np.asarray(image, np.float32)


def difference_image(onset: np.ndarray, apex: np.ndarray) -> np.ndarray:
    """``|apex - onset|`` as float32 in 0..1, same shape as the frames ((H, W) or (H, W, 3)).

    Frames are uint8 (0..255) or float in 0..1; they must have the same shape.
    """
    onset = np.asarray(onset)
    apex = np.asarray(apex)
    if onset.shape != apex.shape:
        raise ValueError(f"frame shapes differ: onset {onset.shape}, apex {apex.shape}")
    return np.abs(to_unit(apex) - to_unit(onset))
