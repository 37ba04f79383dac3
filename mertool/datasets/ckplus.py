"""CK+ (Extended Cohn-Kanade): neutral-to-peak posed sequences (DATASETS.md §4).

Layout read (the root is the folder the four zips were unpacked into)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    Landmarks/S005/001/S005_001_00000001_landmarks.txt ...   68 rows "x y", one file per image
    FACS/S005/001/S005_001_00000011_facs.txt                  "AU intensity" per line, peak frame
    Emotion/S005/001/S005_001_00000011_emotion.txt            one number, e.g. "   3.0000000e+00"

One sample per sequence folder that has images. A sequence runs from neutral to peak, so
``onset`` is the first frame, ``apex`` the peak (the frame the Emotion/FACS file names, which is
the last frame) and ``offset`` is unknown (``None``): CK+ sequences stop at the peak.

Only 327 of the 593 sequences carry an Emotion file: a sequence without one is still a sample
(its frames, landmarks and AUs serve face and apex work) but has no emotion and no label under
any map (``labels`` are ``None``), so class counts only count the labelled ones.

Emotion codes 0..7 = neutral, anger, contempt, disgust, fear, happy, sadness, surprise (0 never
occurs). Label maps: ``ckplus-7`` (the 7 emotions, the default) and ``ckplus-8`` (codes 0..7).
AUs (``aus``) are the AU numbers of the FACS file; ``aus_raw`` writes them as ``AU:intensity``
joined by ``+`` (``4:0+17:3``; intensity 0 = not coded). The landmark file of every frame is kept
in ``extra["landmark_files"]`` (aligned with ``frames``; ``None`` where a frame has none).
Label files whose images do not exist are reported and skipped. The frame rate (30 fps) is not
stated by the distribution [unverified].
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from mertool.datasets.base import DatasetRead, register
from mertool.datasets.frames import frame_number, list_dir
from mertool.datasets.rows import QuirkLog, clip_sample, listed_frames

NAME = "ckplus"
FPS = 30.0  # [U] not stated by the distribution
IMAGES = "cohn-kanade-images"
CODES = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


def _child(root: Path, name: str) -> Path | None:
    dirs, _ = list_dir(root)
    return next((d for d in dirs if d.name.lower() == name.lower()), None)


def detect(root: Path) -> bool:
    return _child(root, IMAGES) is not None


def _seq_files(base: Path | None, suffix: str) -> dict[tuple[str, str], list[Path]]:
    """``(subject, sequence) -> files ending in suffix`` under ``base/S005/001/``."""
    out: dict[tuple[str, str], list[Path]] = {}
    if base is None:
        return out
    for subj in list_dir(base)[0]:
        for seq in list_dir(subj)[0]:
            files = [f for f in list_dir(seq)[1] if f.name.lower().endswith(suffix)]
            if files:
                out[(subj.name, seq.name)] = files
    return out


def parse_emotion(path: Path) -> int:
    """The code in an ``*_emotion.txt`` file (``   3.0000000e+00`` -> 3); ValueError if not one number."""
    tokens = path.read_text(errors="replace").split()
    if len(tokens) != 1:
        raise ValueError(f"expected one number, found {len(tokens)} tokens")
    value = float(tokens[0])
    if not value.is_integer():
        raise ValueError(f"{tokens[0]} is not a whole number")
    return int(value)


def parse_facs(path: Path) -> list[tuple[int, int]]:
    """``(AU, intensity)`` pairs from a ``*_facs.txt`` file; ValueError for a malformed line."""
    pairs = []
    for line in path.read_text(errors="replace").splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 2:
            raise ValueError(f"line {line.strip()!r} is not 'AU intensity'")
        au, intensity = float(tokens[0]), float(tokens[1])
        if not (math.isfinite(au) and math.isfinite(intensity)):  # "inf", "1e400", "nan" (fuzzing)
            raise ValueError(f"line {line.strip()!r} holds a number that is not finite")
        pairs.append((int(au), int(intensity)))
    return pairs


def _labels(emotion: str | None) -> dict[str, str | None]:
    return {
        "native": emotion,
        "ckplus-7": emotion if emotion in CODES[1:] else None,
        "ckplus-8": emotion if emotion in CODES else None,
    }


@register(
    NAME,
    "CK+: cohn-kanade-images/ + Emotion/, FACS/, Landmarks/ per sequence (neutral to peak), 30 fps",
    detect,
    label_maps=("ckplus-7", "ckplus-8", "native"),
    default_label_map="ckplus-7",
    aliases=("ck+", "ck"),
    title="CK+",
)
def read(root: Path) -> DatasetRead:
    root = Path(root)
    result = DatasetRead(NAME, root, [], default_label_map="ckplus-7")
    q = QuirkLog(root, result.quirks)
    images = _child(root, IMAGES)
    if images is None:
        from mertool.errors import DatasetError

        raise DatasetError(
            f"{root}: no {IMAGES}/ folder", hint="give the CK+ folder that holds cohn-kanade-images/"
        )
    dirs = {name: _child(root, name) for name in ("Emotion", "FACS", "Landmarks")}
    for name, d in dirs.items():
        if d is None:
            q(
                root,
                f"no {name}/ folder: "
                + ("no sequence has a label" if name == "Emotion" else f"no {name} read"),
            )
    emotion_files = _seq_files(dirs["Emotion"], "_emotion.txt")
    facs_files = _seq_files(dirs["FACS"], "_facs.txt")
    landmark_files = _seq_files(dirs["Landmarks"], "_landmarks.txt")
    read_seqs: set[tuple[str, str]] = set()

    for subj_dir in list_dir(images)[0]:
        if not re.fullmatch(r"S\d+", subj_dir.name):
            q(subj_dir, "not a subject folder (S005 style): ignored")
            continue
        seq_dirs, files = list_dir(subj_dir)
        for f in files:
            q(f, "stray file (not a sequence folder): ignored")
        for seq_dir in seq_dirs:
            key = (subj_dir.name, seq_dir.name)
            frames, numbers = listed_frames(
                seq_dir, q, "not a frame image (.DS_Store or stray file): ignored"
            )
            if not frames:
                q(seq_dir, "sequence folder without images: skipped")
                continue
            read_seqs.add(key)
            have = set(numbers)
            apex = numbers[-1]
            emotion = None
            efiles = emotion_files.get(key, [])
            if len(efiles) > 1:
                q(efiles[1], f"{len(efiles)} emotion files for one sequence: only {efiles[0].name} is read")
            if efiles:
                ef = efiles[0]
                peak = frame_number(ef.name.lower().replace("_emotion.txt", ""))
                try:
                    code = parse_emotion(ef)
                except (ValueError, OSError) as exc:
                    q(ef, f"unreadable emotion file ({exc}): sequence left without a label")
                else:
                    if 0 <= code < len(CODES):
                        emotion = CODES[code]
                        if code == 0:
                            q(ef, "emotion code 0 (neutral), which CK+ says never occurs: kept")
                    else:
                        q(ef, f"emotion code {code} is outside 0..7: sequence left without a label")
                if peak is not None and peak not in have:
                    q(ef, f"names frame {peak}, which has no image: apex kept at the last frame {apex}")
                elif peak is not None:
                    apex = peak
            aus: tuple[str, ...] = ()
            aus_raw = None
            ffiles = facs_files.get(key, [])
            if ffiles:
                ff = ffiles[0]
                try:
                    pairs = parse_facs(ff)
                except (ValueError, OSError) as exc:
                    q(ff, f"unreadable FACS file ({exc}): no AUs")
                else:
                    aus = tuple(str(a) for a, _ in pairs)
                    aus_raw = "+".join(f"{a}:{i}" for a, i in pairs)
                peak = frame_number(ff.name.lower().replace("_facs.txt", ""))
                if peak is not None and peak not in have:
                    q(ff, f"names frame {peak}, which has no image")
            landmarks = _landmarks_for(frames, numbers, landmark_files.get(key, []))
            if dirs["Landmarks"] is not None and any(lm is None for lm in landmarks):
                missing = sum(lm is None for lm in landmarks)
                q(seq_dir, f"{missing} of {len(frames)} frame(s) have no landmark file")
            marks = (numbers[0], apex, None)  # neutral to peak: no offset
            fields = {"labels": _labels(emotion), "aus": aus, "aus_raw": aus_raw}
            extra = {"landmark_files": tuple(landmarks)}
            sample = clip_sample(NAME, *key, (frames, numbers), FPS, emotion, marks, extra=extra, **fields)
            result.samples.append(sample)

    for kind, files in (("emotion", emotion_files), ("FACS", facs_files)):
        for key, paths in sorted(files.items()):
            if key not in read_seqs:
                for p in paths:
                    image = f"{IMAGES}/{key[0]}/{key[1]}/{p.name.rsplit('_', 1)[0]}.png"
                    q(p, f"{kind} file for image {image}, which does not exist: skipped")
    for key in sorted(set(landmark_files) - read_seqs):
        q(dirs["Landmarks"] / key[0] / key[1], "landmark files for a sequence without images: skipped")
    return result


def _landmarks_for(frames: list[Path], numbers: list[int], files: list[Path]) -> list[Path | None]:
    by_number: dict[int, Path] = {}
    for f in files:
        n = frame_number(f.name.lower().replace("_landmarks.txt", ""))
        if n is not None:
            by_number[n] = f
    return [by_number.get(n) for n in numbers]
