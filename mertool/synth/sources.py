"""The real face photos that installed packages ship, with each face's box and 68 landmarks.

No face video ships with any package this project installs, so the synthetic clips are made from
still photos (see docs/synth.md). The photos, in a fixed order so a seed means the same dataset on
every machine:

===================  ===============================================  ======================
name                 where                                            faces dlib HOG finds
===================  ===============================================  ======================
``astronaut``        scikit-image ``data/astronaut.png`` (512x512)    1 (88 px)
``grace_hopper``     matplotlib ``mpl-data/sample_data/``             1 (216 px)
``zidane``           ultralytics ``assets/zidane.jpg`` (1280x720)     1 (150 px, the man on the right)
``bus``              ultralytics ``assets/bus.jpg`` (810x1080)        2 (44 px, with upsampling)
===================  ===============================================  ======================

Every other image inside the installed packages was scanned with dlib HOG (upsample 1) and holds
no detectable face (scikit-image's ``camera.png`` is a profile; its ``lfw_subset`` faces are
25x25 px, too small to animate). Each photo is also used mirrored, which dlib detects and
landmarks afresh, so every face gives two sources.

Files are located through import specs, never by importing the packages (importing ultralytics
is slow and changes OpenCV's thread count).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

#: Faces scoring below this with dlib HOG are too unreliable to animate.
MIN_SCORE = 0.3
#: Faces narrower than this (box width, source pixels) are not used.
MIN_FACE_PX = 36


@dataclass(frozen=True)
class SourceFace:
    """One face in one photo: the photo (RGB uint8), the HOG box and the 68 landmarks in it."""

    name: str  # "grace_hopper", "bus#1", "astronaut~mirror"
    photo: str  # the photo's name in PHOTOS
    path: str
    image: np.ndarray  # (H, W, 3) uint8 RGB, mirrored when the name says so
    box: np.ndarray  # (4,) float32 x0, y0, x1, y1
    score: float
    landmarks: np.ndarray  # (68, 2) float32 x, y
    mirrored: bool

    @property
    def face_width(self) -> float:
        """Jaw width (landmark 0 to 16), the face size the subjects are scaled by."""
        return float(np.linalg.norm(self.landmarks[16] - self.landmarks[0]))


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


#: name -> (package, path inside the package)
PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    "zidane": ("ultralytics", "assets/zidane.jpg"),
    "bus": ("ultralytics", "assets/bus.jpg"),
}


def photo_paths() -> dict[str, Path]:
    """The photos present in this installation (a missing package just drops its photos)."""
    found: dict[str, Path] = {}
    for name, (package, rel) in PHOTOS.items():
        folder = _package_dir(package)
        if folder is not None and (folder / rel).is_file():
            found[name] = folder / rel
    return found


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        from mertool.errors import MertoolError

        raise MertoolError(
            f"cannot decode the bundled photo {path}", hint="reinstall the package that ships it"
        )
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def faces_in(image: np.ndarray, max_upsample: int = 1) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """``(box, score, landmarks)`` of every usable face, trying HOG upsampling 0 then 1.

    Upsampling 1 is only tried when 0 finds nothing (it costs 4x the time).
    """
    from mertool.face.landmarks import detect_hog, landmarks68

    found: list[tuple[np.ndarray, float]] = []
    for up in range(max_upsample + 1):
        found = [(b, s) for b, s in detect_hog(image, upsample=up) if s >= MIN_SCORE]
        if found:
            break
    out = []
    for box, score in found:
        if box[2] - box[0] < MIN_FACE_PX:
            continue
        out.append((box, score, landmarks68(image, box)))
    # left to right, so "#0", "#1" name the same faces on every machine
    return sorted(out, key=lambda f: float(f[0][0]))


@cache
def load_sources(mirror: bool = True) -> tuple[SourceFace, ...]:
    """Every usable face of the bundled photos (and of their mirror images), in a fixed order.

    Raises :class:`~mertool.errors.MertoolError` when no photo is installed at all.
    """
    sources: list[SourceFace] = []
    paths = photo_paths()
    for photo, path in paths.items():
        base = _read_rgb(path)
        for flipped in (False, True) if mirror else (False,):
            image = np.ascontiguousarray(base[:, ::-1]) if flipped else base
            faces = faces_in(image)
            for k, (box, score, lms) in enumerate(faces):
                name = photo + (f"#{k}" if len(faces) > 1 else "") + ("~mirror" if flipped else "")
                image.setflags(write=False)
                sources.append(SourceFace(name, photo, str(path), image, box, score, lms, flipped))
    if not sources:
        from mertool.errors import MertoolError

        raise MertoolError(
            "no face photo found in the installed packages (looked for "
            + ", ".join(f"{p}/{r}" for p, r in PHOTOS.values())
            + ")",
            hint="make install (scikit-image, matplotlib and ultralytics ship the photos)",
        )
    return tuple(sources)
