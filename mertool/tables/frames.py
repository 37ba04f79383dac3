"""Every frame of a clip as its own sample (paper 003: "whole sequences" vs apex frames).

:func:`expand_frames` reads a crop-rois file written with ``--keep-frames`` (every aligned frame
of each clip in ``frames`` (T, S, S[, 3]) uint8, their numbers in ``frame_numbers``) and writes a
sample file with one sample per frame: id ``<clip id>~f<frame number>``, every attribute of the
clip copied (dataset, **subject**, label, labels_json, onset/apex/offset), and the frame as that
sample's face crop: ``crops/face`` (1, S, S[, 3]), ``crop_frame_numbers`` (1,), ``crop_frames``
``["apex"]``. A face model (``--arch se-resnext50``) then reads each frame exactly as it reads a
clip's apex crop. Because every frame keeps its clip's subject, every protocol (LOSO, k-fold of
whole subjects) puts all frames of a clip, and all clips of a subject, on one side of a fold.

The clip-level arrays (``frames``, landmarks, boxes, the clip's own crops) are not copied: they
would repeat T times. Failed clips stay failed (one failed sample with the clip's id and reason).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mertool.errors import MertoolError
from mertool.store import SampleFile, SampleWriter
from mertool.store import schema as S

STAGE = "frames-as-samples"
SEP = "~f"


def frame_sample_id(clip_id: str, number: int) -> str:
    return f"{clip_id}{SEP}{int(number)}"


def clip_of(sample_id: str) -> str:
    """The clip a frame sample came from (the id itself for a clip)."""
    return sample_id.split(SEP, 1)[0]


def expand_frames(source: str | Path, output: str | Path, command: str | None = None) -> dict[str, int]:
    """Write ``output`` with one sample per frame of every clip of ``source`` (see module doc).

    Returns counts ``{"clips", "frames", "failed"}``. Raises :class:`MertoolError` when the file
    holds no aligned frames (crop-rois ran without ``--keep-frames``).
    """
    counts = {"clips": 0, "frames": 0, "failed": 0}
    with SampleFile(source) as sf:
        usable = [r for r in sf.records() if r.ok]
        if usable and not usable[0].has(S.D_FRAMES):
            raise MertoolError(
                f"{sf.name} holds no aligned frames, so its clips cannot be split into frames",
                hint="run crop-rois with --keep-frames (or give a detect-faces file)",
            )
        with SampleWriter(
            Path(output), STAGE, params={"frames": "all"}, source=sf, command=command
        ) as writer:
            for rec in sf.records():
                if not rec.ok:
                    writer.write(rec.id, attrs=dict(rec.attrs))
                    counts["failed"] += 1
                    continue
                frames = np.asarray(rec.array(S.D_FRAMES))
                numbers = np.asarray(rec.array(S.D_FRAME_NUMBERS), dtype=np.int32)
                if len(frames) != len(numbers):
                    reason = f"{len(frames)} frames but {len(numbers)} frame numbers"
                    writer.write_failed(rec.id, reason, dict(rec.attrs))
                    counts["failed"] += 1
                    continue
                attrs = {k: v for k, v in rec.attrs.items() if k != S.A_ID}
                attrs[S.A_CROP_FRAMES] = ["apex"]
                for img, num in zip(frames, numbers):
                    arrays = {
                        f"{S.CROPS_GROUP}/face": img[None],
                        S.D_CROP_FRAME_NUMBERS: np.array([num], np.int32),
                    }
                    writer.write(frame_sample_id(rec.id, num), arrays=arrays, attrs=attrs)
                    counts["frames"] += 1
                counts["clips"] += 1
    return counts
