"""RAF-DB (basic): still images with one of 7 basic emotions and a fixed train/test split (DATASETS.md §9).

Layout read (the root is ``basic``, or the folder holding it)::

    EmoLabel/list_patition_label.txt      (sic) one line per image: "train_00001.jpg 5"
    Image/aligned/train_00001_aligned.jpg  (read by ``rafdb``, the default)
    Image/original/train_00001.jpg         (read by ``rafdb-original``)

Labels 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral (label map ``rafdb-7``,
in that order). Each image is one sample with one frame (frame number 0); the image *is* the
labelled expression, so ``apex`` is 0 and onset/offset are unknown. RAF-DB has no subject ids:
each image is its own subject (so a subject-wise split cannot leak), and evaluation uses the
fixed split, ``extra["split"]`` (``train``/``test``, from the name prefix), written to the sample
file as attribute ``split``. Sample ids are ``rafdb/<split>/<image stem>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from mertool.datasets.base import DatasetRead, register, relpath
from mertool.datasets.frames import is_image
from mertool.datasets.labels import LABEL_MAPS
from mertool.datasets.rows import QuirkLog, clip_sample

NAME = "rafdb"
LABEL_FILE = ("EmoLabel", "list_patition_label.txt")
CLASSES = LABEL_MAPS["rafdb-7"].classes  # index 0 = label 1


def _base(root: Path) -> Path | None:
    for base in (root, root / "basic"):
        if base.joinpath(*LABEL_FILE).is_file():
            return base
    return None


def detect(root: Path) -> bool:
    return _base(root) is not None


@register(
    NAME,
    "RAF-DB basic, aligned faces: EmoLabel/list_patition_label.txt + Image/aligned/, train/test split",
    detect,
    label_maps=("rafdb-7", "native"),
    default_label_map="rafdb-7",
    aliases=("raf-db",),
    title="RAF-DB",
)
def read(root: Path) -> DatasetRead:
    return _read(Path(root), "aligned", NAME)


def _read_original(root: Path) -> DatasetRead:
    return _read(Path(root), "original", NAME + "-original")


register(
    NAME + "-original",
    "RAF-DB basic, original images (Image/original/); by --dataset only",
    lambda root: False,
    label_maps=("rafdb-7", "native"),
    default_label_map="rafdb-7",
    title="RAF-DB (original images)",
    accepts=detect,
)(_read_original)


def _image_name(name: str, variant: str) -> str:
    return f"{Path(name).stem}_aligned.jpg" if variant == "aligned" else name


def _read(root: Path, variant: str, reader_name: str) -> DatasetRead:
    from mertool.errors import DatasetError

    base = _base(root)
    if base is None:
        raise DatasetError(
            f"{root}: no {'/'.join(LABEL_FILE)}", hint="give the RAF-DB 'basic' folder (it holds EmoLabel/)"
        )
    label_file = base.joinpath(*LABEL_FILE)
    result = DatasetRead(reader_name, root, [], annotation_files=[label_file], default_label_map="rafdb-7")
    q = QuirkLog(root, result.quirks)
    image_dir = base / "Image" / variant
    if variant == "aligned" and not image_dir.is_dir() and (base / "Image" / "original").is_dir():
        q(image_dir, "no aligned images: Image/original/ read instead")
        variant, image_dir = "original", base / "Image" / "original"
    on_disk: set[str] = set()
    if image_dir.is_dir():
        with os.scandir(image_dir) as it:
            for e in it:
                if e.is_dir():
                    continue
                if is_image(Path(e.name)):
                    on_disk.add(e.name)
                else:
                    q(image_dir / e.name, "not an image (stray file): ignored")
    else:
        q(image_dir, "image folder missing: no image can be read")

    seen: set[str] = set()
    listed: set[str] = set()
    for number, line in enumerate(
        label_file.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1
    ):
        tokens = line.split()
        if not tokens:
            continue
        # isascii: '²'.isdigit() is True but int('²') fails (found by make fuzz-long)
        if len(tokens) != 2 or not (tokens[1].isascii() and tokens[1].isdigit()):
            q(label_file, f"line {line.strip()!r} is not '<image> <label>': skipped", number)
            continue
        name, code = tokens[0], int(tokens[1])
        if not 1 <= code <= len(CLASSES):
            q(label_file, f"{name}: label {code} is outside 1..{len(CLASSES)}: skipped", number)
            continue
        stem = Path(name).stem
        if stem in seen:
            q(label_file, f"{name} listed twice: this line skipped (the first one is kept)", number)
            continue
        image = _image_name(name, variant)
        listed.add(image)
        if image not in on_disk:
            q(label_file, f"{name}: image {relpath(image_dir / image, root)} missing: skipped", number)
            continue
        prefix = stem.split("_", 1)[0].lower()
        split = prefix if prefix in ("train", "test") else None
        if split is None:
            q(label_file, f"{name}: name starts with neither train nor test: split unknown", number)
        seen.add(stem)
        emotion = CLASSES[code - 1]
        # one frame, numbered 0, is the labelled expression: its apex; each image its own subject
        fields = {
            "id": f"{NAME}/{split or 'unknown'}/{stem}",
            "labels": {"native": emotion, "rafdb-7": emotion},
        }
        extra = {"split": split, "variant": variant, "row": number}
        frame = ([image_dir / image], [0])
        result.samples.append(
            clip_sample(NAME, stem, stem, frame, None, emotion, (None, 0, None), extra=extra, **fields)
        )
    unlisted = sorted(on_disk - listed)
    if unlisted:
        shown = ", ".join(unlisted[:5]) + (", ..." if len(unlisted) > 5 else "")
        q(image_dir, f"{len(unlisted)} image(s) not in {LABEL_FILE[1]}: not read ({shown})")
    return result
