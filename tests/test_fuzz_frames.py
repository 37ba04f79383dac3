"""Fuzzed frame files: truncated, corrupted, garbled JPEG, BMP and PNG bytes (issue 14, part 5).

Both decoders that open source frames (``mertool.face.sources.read_frame``, used by
detect-faces and crop-rois, and ``mertool.datasets.frames.read_image``) must return an image or
raise a :class:`~mertool.errors.SampleError` whose reason names the file: the stages turn that
into a sample marked failed with its reason. Never another exception, never a crash. The
``detect-faces`` stage itself is run on a clip holding one damaged frame: the clip fails with
the reason, the others go on. Profiles as in tests/test_fuzz_readers.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mertool.errors import SampleError

# the fuzz budget (profiles ci / long) is set once for every fuzz module in tests/conftest.py

SUFFIXES = (".jpg", ".bmp", ".png")


def _image_bytes(suffix: str, gray: bool = False, size: tuple[int, int] = (24, 32)) -> bytes:
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=(*size, 1 if gray else 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (5, 5), 0)  # some structure, like a photo
    ok, buf = cv2.imencode(suffix, img)
    assert ok
    return buf.tobytes()


GOOD = {(s, g): _image_bytes(s, g) for s in SUFFIXES for g in (False, True)}


@st.composite
def damaged_bytes(draw):
    """A real image file, then cut short, overwritten, spliced, or replaced by junk."""
    suffix = draw(st.sampled_from(SUFFIXES))
    data = bytearray(GOOD[(suffix, draw(st.booleans()))])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cut", "flip", "overwrite", "insert", "delete", "junk", "header_only"]))
        n = len(data)
        at = draw(st.integers(0, max(0, n - 1)))
        if op == "cut":
            data = data[:at]
        elif op == "flip" and n:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            patch = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(patch)] = patch
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "junk":
            data = bytearray(draw(st.binary(max_size=256)))
        elif op == "header_only":
            data = data[: draw(st.integers(0, 64))]
    return suffix, bytes(data)


def _check(decode, path: Path, gray: bool) -> str:
    try:
        img = decode(path, "fuzz/s1/c1", gray=gray)
    except SampleError as exc:
        assert str(path) in exc.reason, f"reason names no file: {exc.reason}"
        assert exc.sample_id == "fuzz/s1/c1"
        return "failed"
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    assert img.ndim == (2 if gray else 3) and img.size > 0
    return "image"


#: Found by make fuzz-long: a BMP header claiming a height beyond OpenCV's limit makes
#: cv2.imdecode raise cv2.error instead of returning None.
HUGE_BMP = bytearray(GOOD[(".bmp", False)])
HUGE_BMP[22:26] = (0x01010000).to_bytes(4, "little")


@given(case=damaged_bytes(), gray=st.booleans())
@example(case=(".bmp", bytes(HUGE_BMP)), gray=False)
def test_decoders_return_an_image_or_a_sample_error(case, gray):
    from mertool.datasets.frames import read_image
    from mertool.face.sources import read_frame

    suffix, data = case
    with tempfile.TemporaryDirectory(prefix="mertool-fuzz-") as tmp:
        path = Path(tmp) / f"img46{suffix}"
        path.write_bytes(data)
        _check(read_frame, path, gray)
        _check(read_image, path, gray)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_cut_files_fail_naming_the_file(tmp_path, suffix):
    """Whatever hypothesis draws, a frame cut in half is never silently half gray."""
    from mertool.datasets.frames import read_image
    from mertool.face.sources import read_frame

    data = GOOD[(suffix, False)]
    path = tmp_path / f"img1{suffix}"
    path.write_bytes(data[: len(data) // 2])
    for decode in (read_frame, read_image):
        with pytest.raises(SampleError) as err:
            decode(path, "s")
        assert str(path) in err.value.reason


def test_a_damaged_frame_fails_its_clip_in_the_face_stage(synth_casme2, tmp_path, cli):
    """detect-faces on a copy of the synthetic set with one frame cut short: that clip is marked
    failed with a reason naming the frame; every other clip is done."""
    import shutil

    from mertool.store import SampleFile
    from mertool.store import schema as S

    root = tmp_path / "synth"
    shutil.copytree(synth_casme2.root, root)
    frames = sorted((root / "CASME2").rglob("img*.jpg"))
    victim = frames[len(frames) // 2]
    victim.write_bytes(victim.read_bytes()[:300])
    out = tmp_path / "faces.h5"
    result = cli("detect-faces", root / "CASME2", "-o", out, "-j", "1")
    assert result.exit_code == 0, result.output
    with SampleFile(out) as sf:
        failed = {r.id: r.get(S.A_ERROR) for r in sf.records() if not r.ok}
        assert len(failed) == 1 and len(sf) == len(synth_casme2.ids)
    (reason,) = failed.values()
    assert str(victim) in reason or victim.name in reason, reason


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "frame file missing: {}"),
        (b"", "frame file is empty: {}"),
        ("half", "truncated JPEG (no end-of-image marker): {}"),
        (
            b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9",
            "cannot decode image (corrupt or not an image): {}",
        ),
    ],
    ids=["missing", "empty", "truncated", "corrupt"],
)
def test_frame_reasons_exactly(tmp_path, content, reason):
    """The reasons docs/errors.md quotes, as a failed sample stores them."""
    from mertool.face.sources import read_frame

    path = tmp_path / "img46.jpg"
    if content == "half":
        data = GOOD[(".jpg", False)]
        path.write_bytes(data[: len(data) // 2])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(SampleError) as err:
        read_frame(path, "casme2/sub01/EP02_01f")
    assert err.value.reason == reason.format(path)
