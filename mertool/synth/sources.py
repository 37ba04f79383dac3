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


def _read_rgb(path: Path, what: str = "bundled photo") -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        from mertool.errors import MertoolError

        hint = (
            "reinstall the package that ships it" if what == "bundled photo" else "re-save it as JPEG or PNG"
        )
        raise MertoolError(f"cannot decode the {what} {path}", hint=hint)
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


def photo_faces(photo: str, path: Path, mirror: bool = True, what: str = "bundled photo") -> list[SourceFace]:
    """Every usable face of one photo (and of its mirror image): ``photo``, ``photo#1``,
    ``photo~mirror``, ... (``#k`` only when the photo holds several faces, left to right)."""
    sources: list[SourceFace] = []
    base = _read_rgb(path, what)
    for flipped in (False, True) if mirror else (False,):
        image = np.ascontiguousarray(base[:, ::-1]) if flipped else base
        faces = faces_in(image)
        for k, (box, score, lms) in enumerate(faces):
            name = photo + (f"#{k}" if len(faces) > 1 else "") + ("~mirror" if flipped else "")
            image.setflags(write=False)
            sources.append(SourceFace(name, photo, str(path), image, box, score, lms, flipped))
    return sources


@cache
def load_sources(mirror: bool = True) -> tuple[SourceFace, ...]:
    """Every usable face of the bundled photos (and of their mirror images), in a fixed order.

    Raises :class:`~mertool.errors.MertoolError` when no photo is installed at all.
    """
    sources: list[SourceFace] = []
    for photo, path in photo_paths().items():
        sources += photo_faces(photo, path, mirror)
    if not sources:
        from mertool.errors import MertoolError

        raise MertoolError(
            "no face photo found in the installed packages (looked for "
            + ", ".join(f"{p}/{r}" for p, r in PHOTOS.values())
            + ")",
            hint="make install (scikit-image, matplotlib and ultralytics ship the photos)",
        )
    return tuple(sources)


#: The file types ``--photo-dir`` reads (case-insensitive).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def bundled_photo_list() -> str:
    """``astronaut (1 face), ...``: the bundled photos this installation has, for messages."""
    counts: dict[str, int] = {}
    for s in load_sources():
        if not s.mirrored:
            counts[s.photo] = counts.get(s.photo, 0) + 1
    return ", ".join(f"{n} ({k} face{'s' * (k != 1)})" for n, k in counts.items()) or "none"


def select_sources(
    photos: str | tuple[str, ...] | list[str] | None = None, photo_dir: str | Path | None = None
) -> tuple[SourceFace, ...]:
    """The faces of the chosen photos, each with its mirror image: the bundled photos named in
    ``photos`` (in :data:`PHOTOS`' order, whatever order they are given in), then every face in
    the .jpg/.jpeg/.png files of ``photo_dir`` (by file name; a face is named after its file,
    e.g. ``me.jpg``, ``group.png#1~mirror``). Neither given: :func:`load_sources`, all bundled
    photos.

    Raises :class:`~mertool.errors.MertoolError` naming what was given and what is available for
    an unknown photo name, a folder with no photo, or photos with no usable face.
    """
    from mertool.errors import MertoolError

    if photos is None and photo_dir is None:
        return load_sources()
    sources: list[SourceFace] = []
    if isinstance(photos, str):
        photos = photos.split(",")
    if photos is not None:
        wanted = {p.strip() for p in photos if p.strip()}
        available = {s.photo for s in load_sources()}
        unknown = sorted(wanted - available)
        if unknown or not wanted:
            missing = [n for n in unknown if n in PHOTOS]
            if not wanted:
                problem = f"--photos {','.join(photos)!r} names no photo"
            elif missing and len(missing) == len(unknown):
                problem = f"--photos {', '.join(unknown)}: not installed here"
            else:
                problem = f"--photos {', '.join(unknown)}: no such bundled photo"
            raise MertoolError(
                f"{problem}; available: {bundled_photo_list()}",
                hint="name bundled photos separated by commas (e.g. --photos astronaut,zidane), "
                "or use --photo-dir DIR for your own face photos",
            )
        sources += [s for s in load_sources() if s.photo in wanted]
    if photo_dir is not None:
        folder = Path(photo_dir)
        if not folder.is_dir():
            raise MertoolError(
                f"--photo-dir {folder}: no such folder",
                hint=f"a folder of face photos ({', '.join(PHOTO_SUFFIXES)})",
            )
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        if not files:
            others = sorted(p.name for p in folder.iterdir())
            raise MertoolError(
                f"--photo-dir {folder}: no {'/'.join(PHOTO_SUFFIXES)} file in it"
                + (
                    f" (it holds {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})"
                    if others
                    else " (it is empty)"
                ),
                hint=f"put face photos there, or use bundled ones with --photos ({bundled_photo_list()})",
            )
        found = []
        for path in files:
            found += photo_faces(path.name, path, what="photo")
        if not found:
            raise MertoolError(
                f"--photo-dir {folder}: dlib HOG finds no usable face in {', '.join(p.name for p in files)} "
                f"(faces must score at least {MIN_SCORE} and be at least {MIN_FACE_PX} px wide)",
                hint="use frontal face photos where the face is at least 80 px wide, "
                f"or use bundled ones with --photos ({bundled_photo_list()})",
            )
        sources += found
    return tuple(sources)
