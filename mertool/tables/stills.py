"""RAF-DB-like and CK+-like trees made of synthetic clips, for the smoke twins of papers 000 and 001.

``mertool synth`` writes micro-expression datasets (CASME II, SAMM, SMIC layouts). Paper 000
trains on RAF-DB stills and paper 001 pre-trains on CK+ sequences; their smoke twins read trees
in those datasets' real layouts, built here from a synthetic CASME II set, so the ``rafdb`` and
``ckplus`` readers and every later stage run unchanged:

``write_rafdb(casme2_root, out)``
    ``EmoLabel/list_patition_label.txt`` + ``Image/aligned/{train,test}_NNNNN_aligned.jpg``:
    per clip, the apex frame under its emotion (happiness -> 4 happiness, surprise -> 1, disgust
    -> 3, repression -> 5 sadness, others -> 6 anger) and the onset frame as 7 neutral; a square
    crop of the frame's height around its centre (the synthetic face), 100 x 100 like RAF-DB's
    aligned images. The last subject's images form the test split, the others the train split.
``write_ckplus(casme2_root, out)``
    ``cohn-kanade-images/S5NN/00K/S5NN_00K_0000000F.png`` (grey, onset to apex: neutral to peak,
    as CK+ sequences run) + ``Emotion/.../*_emotion.txt`` on the last frame (codes 5 happy,
    7 surprise, 3 disgust, 6 sadness for repression).

Both are deterministic functions of the synthetic set (no randomness of their own).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mertool.errors import MertoolError

#: CASME II native emotion -> RAF-DB label code (1 surprise, 2 fear, 3 disgust, 4 happiness,
#: 5 sadness, 6 anger, 7 neutral)
RAFDB_CODES = {
    "happiness": 4,
    "surprise": 1,
    "disgust": 3,
    "repression": 5,
    "sadness": 5,
    "fear": 2,
    "others": 6,
}
RAFDB_NEUTRAL = 7
RAFDB_SIZE = 100
#: CASME II native emotion -> CK+ emotion code (3 disgust, 5 happy, 6 sadness, 7 surprise)
CKPLUS_CODES = {
    "happiness": 5,
    "surprise": 7,
    "disgust": 3,
    "repression": 6,
    "sadness": 6,
    "fear": 4,
    "others": 1,
}


def _clips(casme2_root: Path):
    from mertool.datasets.base import open_dataset

    read = open_dataset(casme2_root, "casme2")
    samples = [s for s in read.samples if s.onset is not None and s.apex is not None]
    if not samples:
        raise MertoolError(f"{casme2_root}: no CASME II clip with onset and apex to build stills from")
    return sorted(samples, key=lambda s: s.id)


def _frame(sample, number: int) -> np.ndarray:
    from mertool.datasets.frames import read_image

    return np.asarray(read_image(sample.frames[sample.frame_numbers.index(number)]))


def _square(img: np.ndarray, side: int) -> np.ndarray:
    """A centred square of the frame's height, resized to ``side`` x ``side``."""
    import cv2

    h, w = img.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return cv2.resize(img[y0 : y0 + s, x0 : x0 + s], (side, side), interpolation=cv2.INTER_AREA)


def _write_image(path: Path, img: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr):
        raise MertoolError(f"could not write {path}")


def write_rafdb(casme2_root: str | Path, out: str | Path) -> Path:
    """A RAF-DB basic tree at ``out`` from the synthetic CASME II set at ``casme2_root``."""
    out = Path(out)
    samples = _clips(Path(casme2_root))
    subjects = sorted({s.subject for s in samples})
    test_subjects = {subjects[-1]} if len(subjects) > 1 else set()
    lines: list[str] = []
    counters = {"train": 0, "test": 0}
    for s in samples:
        split = "test" if s.subject in test_subjects else "train"
        code = RAFDB_CODES.get(s.emotion or "", 6)
        for number, label in ((s.apex, code), (s.onset, RAFDB_NEUTRAL)):
            counters[split] += 1
            stem = f"{split}_{counters[split]:05d}"
            _write_image(
                out / "Image" / "aligned" / f"{stem}_aligned.jpg", _square(_frame(s, number), RAFDB_SIZE)
            )
            lines.append(f"{stem}.jpg {label}")
    label_file = out / "EmoLabel" / "list_patition_label.txt"
    label_file.parent.mkdir(parents=True, exist_ok=True)
    label_file.write_text("\n".join(lines) + "\n")
    return out


def write_ckplus(casme2_root: str | Path, out: str | Path) -> Path:
    """A CK+ tree at ``out`` (onset -> apex of each synthetic clip as a neutral -> peak sequence)."""
    import cv2

    out = Path(out)
    samples = _clips(Path(casme2_root))
    subjects = {name: f"S{501 + i}" for i, name in enumerate(sorted({s.subject for s in samples}))}
    seq_count: dict[str, int] = {}
    for s in samples:
        subj = subjects[s.subject]
        seq_count[subj] = seq_count.get(subj, 0) + 1
        seq = f"{seq_count[subj]:03d}"
        numbers = [n for n in s.frame_numbers if s.onset <= n <= s.apex]
        for k, number in enumerate(numbers, start=1):
            img = _frame(s, number)
            gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            _write_image(out / "cohn-kanade-images" / subj / seq / f"{subj}_{seq}_{k:08d}.png", gray)
        emotion = out / "Emotion" / subj / seq / f"{subj}_{seq}_{len(numbers):08d}_emotion.txt"
        emotion.parent.mkdir(parents=True, exist_ok=True)
        emotion.write_text(f"   {CKPLUS_CODES.get(s.emotion or '', 1):.7e}\n")
    return out
