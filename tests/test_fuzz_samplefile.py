"""Fuzzed HDF5 files that claim to be mertool sample files (issue 14, part 5).

Each example writes a file with the right ``format`` attribute (usually the right version too)
and then anything: random groups under ``/samples``, sample groups whose ``id`` disagrees with
their place, attributes of every type (JSON attributes holding text that is not JSON), arrays of
random dtypes and shapes under the names the stages read (``frames``, ``frame_numbers``, ``flow``,
``crops/face``...). Opening, listing, inspecting and reading every record, and running the
spot-apex, crop-rois and flow stages on the file, must end in a result (failed samples marked
with their reason) or one :class:`~mertool.errors.MertoolError` naming the file; never another
exception. Profiles as in tests/test_fuzz_readers.py (``HYPOTHESIS_PROFILE=long``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mertool.errors import MertoolError
from mertool.store import schema as S

# the fuzz budget (profiles ci / long) is set once for every fuzz module in tests/conftest.py

# ------------------------------------------------------------------------------------------------
# strategies

NAME = st.text(alphabet="abcdefgh0123_-", min_size=1, max_size=6)
SAMPLE_PATH = st.lists(NAME, min_size=1, max_size=3).map("/".join)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)

ATTR_VALUE = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    TEXT,
    st.sampled_from(["ok", "failed", "rgb", "gray", "", "/"]),
    st.lists(TEXT, min_size=1, max_size=3),
    st.lists(st.integers(-5, 5), min_size=1, max_size=3).map(np.asarray),
    hnp.arrays(hnp.scalar_dtypes(), st.integers(0, 3)),
)
JSON_VALUE = st.one_of(
    TEXT,  # mostly not JSON
    st.recursive(
        st.none() | st.booleans() | st.integers(-5, 5) | TEXT,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=6,
    ).map(json.dumps),
)
KNOWN_ATTRS = [
    S.A_STATUS, S.A_ERROR, S.A_ONSET, S.A_APEX, S.A_OFFSET, S.A_APEX_SPOTTED, S.A_FPS, S.A_LABEL,
    S.A_SUBJECT, S.A_DATASET, S.A_FACE_SIZE, S.A_COLOR, S.A_DATA_ROOT, S.A_WARNINGS, S.A_AUS,
]  # fmt: skip
JSON_ATTRS = [S.A_LABELS_JSON, S.A_ROI_NAMES_JSON, S.A_FLOW_PARAMS_JSON, "x_json"]
KNOWN_ARRAYS = [
    S.D_FRAMES, S.D_FRAME_NUMBERS, S.D_FRAME_PATHS, S.D_LANDMARKS_ALIGNED, S.D_LANDMARKS, S.D_BOXES,
    S.D_ALIGN_MATRIX, S.D_APEX_CURVE, S.D_CROP_FRAME_NUMBERS, "crops/face", "crops/rois15",
    "roi_boxes/face", S.D_FLOW, S.D_STRAIN, S.D_DIFF, S.D_ONSET_IMAGE, S.D_APEX_IMAGE, "other",
]  # fmt: skip
DTYPES = st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_, np.int8])


@st.composite
def array_value(draw, name: str, plausible: bool = True):
    """Plausible arrays (the right rank and dtype, a small random size, random values) so the
    stages get past the checks on reading; or anything."""
    if name == S.D_FRAME_PATHS:
        return draw(st.lists(TEXT.filter(bool), min_size=0, max_size=4))
    ranks = {
        S.D_FRAMES: (4, 2), S.D_FRAME_NUMBERS: (1, 1), S.D_LANDMARKS_ALIGNED: (3, 1),
        S.D_LANDMARKS: (3, 1), S.D_BOXES: (2, 1), S.D_ALIGN_MATRIX: (2, 1), S.D_APEX_CURVE: (1, 1),
        S.D_CROP_FRAME_NUMBERS: (1, 1), "crops/face": (4, 2), "crops/rois15": (5, 2),
        "roi_boxes/face": (3, 1), S.D_FLOW: (3, 1), S.D_STRAIN: (2, 1), S.D_DIFF: (2, 1),
        S.D_ONSET_IMAGE: (2, 2), S.D_APEX_IMAGE: (2, 2),
    }  # fmt: skip
    kinds = {S.D_FRAMES: np.uint8, "crops/face": np.uint8, "crops/rois15": np.uint8,
             S.D_ONSET_IMAGE: np.uint8, S.D_APEX_IMAGE: np.uint8, S.D_FRAME_NUMBERS: np.int32,
             S.D_CROP_FRAME_NUMBERS: np.int32, S.D_FLOW: np.float32, S.D_STRAIN: np.float32,
             S.D_DIFF: np.float32}  # fmt: skip
    ndim, _ = ranks.get(name, (draw(st.integers(0, 3)), 0))
    if not plausible and draw(st.booleans()):
        ndim = draw(st.integers(0, 4))
    shape = (
        draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0 if not plausible else 1, max_side=5))
        if ndim
        else ()
    )
    if name in (S.D_FRAMES, "crops/face", "crops/rois15", S.D_ONSET_IMAGE, S.D_APEX_IMAGE) and draw(
        st.booleans()
    ):
        side = draw(st.sampled_from([1, 2, 12, 24]))
        shape = tuple(min(s, 3) if i == 0 else side for i, s in enumerate(shape))
        if len(shape) >= 3 and draw(st.booleans()):
            shape = (*shape[:-1], 3)
    if name in (S.D_LANDMARKS, S.D_LANDMARKS_ALIGNED) and plausible and len(shape) == 3:
        shape = (shape[0], draw(st.sampled_from([68, 5, 1])), 2)
    if name in (S.D_FLOW,) and plausible and len(shape) == 3:
        shape = (*shape[:2], 2)
    if name == S.D_ALIGN_MATRIX and plausible:
        shape = (2, 3)
    if name == S.D_BOXES and plausible and len(shape) == 2:
        shape = (shape[0], 4)
    if name == "roi_boxes/face" and plausible and len(shape) == 3:
        shape = (*shape[:2], 4)
    dtype = (
        kinds.get(name, np.float32)
        if plausible and draw(st.sampled_from([True] * 5 + [False]))
        else draw(DTYPES)
    )
    return draw(hnp.arrays(dtype, shape, elements=None if dtype == np.bool_ else _elements(dtype)))


def _elements(dtype):
    if np.issubdtype(dtype, np.floating):
        return st.floats(-1e3, 1e3, width=32 if dtype == np.float32 else 64) | st.sampled_from(
            [0.0, 1.0, np.nan, np.inf]
        )
    info = np.iinfo(dtype)
    return st.integers(max(info.min, -50), min(info.max, 60)) | st.sampled_from(
        [int(info.min), int(info.max)]
    )


@st.composite
def sample_files(draw):
    """Root attributes and samples of a file that claims to be a mertool sample file."""
    root = {
        "format": draw(st.sampled_from([S.FORMAT_NAME] * 9 + ["other"])),
        "format_version": draw(st.sampled_from([S.FORMAT_VERSION] * 9 + [2, "1"])),
        "stage": draw(st.sampled_from([S.STAGE_FACES, S.STAGE_APEX, S.STAGE_ROIS, S.STAGE_FLOW, "x"])),
    }
    history = [{"stage": s} for s in (S.STAGE_FACES, S.STAGE_APEX, S.STAGE_ROIS)]
    root["history_json"] = draw(
        st.sampled_from([json.dumps(history)] * 12 + ["[]", "{}", "5", "not json", '[{"stage": 3}]'])
    )
    root["params_json"], root["inputs_json"] = "{}", "[]"
    if draw(st.sampled_from([False] * 7 + [True])):  # now and then, damaged provenance
        root[draw(st.sampled_from(["params_json", "inputs_json", "complete"]))] = draw(
            JSON_VALUE | ATTR_VALUE
        )
    samples = []
    for _ in range(draw(st.integers(0, 3))):
        path = draw(SAMPLE_PATH)
        # a plausible sample (right attribute types, arrays of the right rank, random sizes and
        # values) reaches the stages' computations; a junk one tests the checks on reading
        plausible = draw(st.sampled_from([True, True, True, False]))
        attrs = {S.A_ID: path if plausible else draw(st.sampled_from([path] * 6 + ["elsewhere", 7]))}
        if plausible:
            attrs[S.A_STATUS] = draw(st.sampled_from([S.STATUS_OK] * 4 + [S.STATUS_FAILED]))
            for key in (S.A_ONSET, S.A_APEX, S.A_APEX_SPOTTED, S.A_OFFSET, S.A_FACE_SIZE):
                if draw(st.booleans()):
                    attrs[key] = draw(st.integers(-1, 6) | st.integers(0, 2**31 - 1))
            if draw(st.booleans()):
                attrs[S.A_COLOR] = draw(st.sampled_from(["rgb", "gray"]))
        else:
            for key in draw(st.lists(st.sampled_from(KNOWN_ATTRS), max_size=3, unique=True)):
                attrs[key] = draw(ATTR_VALUE)
            for key in draw(st.lists(st.sampled_from(JSON_ATTRS), max_size=2, unique=True)):
                attrs[key] = draw(JSON_VALUE)
        arrays = {}
        for name in draw(st.lists(st.sampled_from(KNOWN_ARRAYS), max_size=7, unique=True)):
            arrays[name] = draw(array_value(name, plausible))
        samples.append((path, attrs, arrays))
    junk = draw(st.lists(st.tuples(SAMPLE_PATH, st.booleans()), max_size=2))  # groups/arrays without an id
    return root, samples, junk


def write_file(path: Path, spec) -> None:
    root, samples, junk = spec
    with h5py.File(path, "w") as h5:
        for key, value in root.items():
            _set_attr(h5.attrs, key, value)
        base = h5.require_group(S.SAMPLES_GROUP)
        for where, as_group in junk:
            try:
                if as_group:
                    base.require_group(where)
                else:
                    base.create_dataset(where, data=np.arange(3))
            except (ValueError, TypeError, KeyError):
                pass
        for where, attrs, arrays in samples:
            try:
                g = base.require_group(where)
            except (ValueError, TypeError, KeyError):
                continue
            for key, value in attrs.items():
                _set_attr(g.attrs, key, value)
            for name, value in arrays.items():
                try:
                    if isinstance(value, list):
                        g.create_dataset(name, data=np.array(value, dtype=h5py.string_dtype()))
                    else:
                        g.create_dataset(name, data=value)
                except (ValueError, TypeError, KeyError):
                    pass


def _set_attr(attrs, key, value) -> None:
    try:
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            attrs[key] = np.array(value, dtype=h5py.string_dtype())
        else:
            attrs[key] = value
    except (TypeError, ValueError, OverflowError):
        pass  # h5py cannot store it: the file simply lacks it


# ------------------------------------------------------------------------------------------------
# the outcome


def expect_clean(fn, file_name: str):
    """``fn()`` returns, or raises a MertoolError that names ``file_name``."""
    try:
        out = fn()
    except MertoolError as exc:
        assert file_name in str(exc) or "stdin" in str(exc), f"error names no file: {exc}"
        event(f"{getattr(fn, '__name__', '?')}: error: {' '.join(exc.message.split(': ')[-1].split()[:3])}")
        return None
    event(f"{getattr(fn, '__name__', '?')}: ran")
    return out


def read_everything(path: Path) -> None:
    from mertool.store import SampleFile
    from mertool.store.describe import describe

    def go():
        with SampleFile(path) as sf:
            _ = (sf.stage, sf.complete, sf.provenance, sf.history, sf.stages_done, len(sf))
            describe(sf)
            for rec in sf.records():
                assert isinstance(rec.ok, bool)
                rec.load()
                if rec.has(S.D_FRAME_PATHS):
                    rec.frame_paths()
                    rec.missing_frames_error()

    expect_clean(go, path.name)


def run_stages(path: Path, out_dir: Path) -> None:
    from mertool.motion.optical_flow import preset
    from mertool.stages import crop_rois, flow, spot_apex
    from mertool.store import SampleFile

    def apex():
        with SampleFile(path) as sf:
            rep = spot_apex.process(sf, out_dir / "apex.h5", method="dc-rois", compare=(), workers=1)
        _samples_event("apex", rep.failed, len(rep.rows))

    def rois():
        rep = crop_rois.run(path, out_dir / "rois.h5", regions="all", roi_size=16, cut_from="frames")
        _samples_event("rois", rep.failed, rep.done)

    def flows():
        with SampleFile(path) as sf:
            options = flow.FlowOptions(preset="dis", params=preset("dis"))
            rep = flow.process(sf, out_dir / "flow.h5", options, workers=1)
        _samples_event("flow", rep.failed, rep.done)

    for fn, out in ((apex, "apex.h5"), (rois, "rois.h5"), (flows, "flow.h5")):
        expect_clean(fn, path.name)
        if (out_dir / out).exists():  # what a stage wrote, it wrote completely: readable again
            read_everything(out_dir / out)
        assert not list(out_dir.glob(".*.lock"))  # and it let go of its lock


def _samples_event(stage: str, failed, done) -> None:
    for _, reason in failed:
        event(f"{stage}: sample failed: {' '.join(str(reason).split()[:4])}")
    if done:
        event(f"{stage}: sample done")


@given(spec=sample_files())
def test_reading_a_fuzzed_sample_file(spec):
    with tempfile.TemporaryDirectory(prefix="mertool-fuzz-") as tmp:
        path = Path(tmp) / "fuzzed.h5"
        write_file(path, spec)
        read_everything(path)


@given(spec=sample_files())
def test_stages_on_a_fuzzed_sample_file(spec):
    with tempfile.TemporaryDirectory(prefix="mertool-fuzz-") as tmp:
        path = Path(tmp) / "fuzzed.h5"
        write_file(path, spec)
        run_stages(path, Path(tmp))


@given(data=st.binary(min_size=0, max_size=2048), cut=st.integers(0, 4096))
def test_truncated_and_garbled_files(data, cut):
    """A real sample file cut short or with bytes overwritten: a clear error, never a crash."""
    from mertool.store import SampleWriter

    with tempfile.TemporaryDirectory(prefix="mertool-fuzz-") as tmp:
        path = Path(tmp) / "real.h5"
        with SampleWriter(path, S.STAGE_FACES) as w:
            w.write("d/s1/c1", arrays={S.D_FRAME_NUMBERS: np.arange(3, dtype=np.int32)}, attrs={S.A_ONSET: 0})
        raw = bytearray(path.read_bytes())
        if data:
            at = cut % max(1, len(raw))
            raw[at : at + len(data)] = data
        else:
            raw = raw[: cut % max(1, len(raw))]
        path.write_bytes(bytes(raw))
        read_everything(path)


@pytest.mark.parametrize(
    "kind, expect",
    [
        ("random", "error: <stdin> is not an HDF5 file"),
        ("text", "error: <stdin> is not an HDF5 file"),
        ("empty", "error: stdin was empty: the stage before this one in the pipe wrote nothing"),
        ("cut", "error: <stdin>: cannot open HDF5 file ("),
        ("foreign", "error: <stdin> is an HDF5 file but not a mertool sample file (format attribute: None)"),
    ],
)
def test_garbage_on_stdin_is_one_clear_error(kind, expect, tmp_path, cli):
    """What a broken pipe feeds a stage (a stage that printed text, died half-way, or another
    program's HDF5): exit code 2 and one message naming <stdin>, never the temporary spool file."""
    from mertool.store import SampleWriter

    real = tmp_path / "real.h5"
    with SampleWriter(real, S.STAGE_FACES) as w:
        for i in range(5):
            w.write(f"d/s/c{i}", arrays={S.D_FRAME_NUMBERS: np.arange(50, dtype=np.int32)})
    if kind == "foreign":
        with h5py.File(tmp_path / "f.h5", "w") as h5:
            h5["x"] = 1
    data = {
        "random": np.random.default_rng(0).bytes(3000),
        "text": b"detect-faces: 0 sample(s) done\n",
        "empty": b"",
        "cut": real.read_bytes()[:2000],
        "foreign": (tmp_path / "f.h5").read_bytes() if kind == "foreign" else b"",
    }[kind]
    r = cli("spot-apex", "-o", tmp_path / "out.h5", input=data)
    assert r.exit_code == 2
    assert expect in r.output
    assert "mertool-stdin-" not in r.output
    assert not (tmp_path / "out.h5").exists()


def _damaged(path: Path, damage) -> Path:
    from mertool.store import SampleWriter

    with SampleWriter(path, S.STAGE_FACES) as w:
        w.write(
            "d/s/c1",
            arrays={
                S.D_FRAME_NUMBERS: np.arange(3, dtype=np.int32),
                S.D_FRAMES: np.zeros((3, 8, 8), np.uint8),
            },
            attrs={S.A_ONSET: 0, S.A_APEX: 1},
        )
    with h5py.File(path, "a") as h5:
        damage(h5, h5["samples/d/s/c1"])
    return path


def _replace(group, name, value):
    del group[name]
    group[name] = value


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda h5, g: g.attrs.__setitem__("labels_json", "{not json"),
            "bad.h5: sample d/s/c1: attribute 'labels_json' is not valid JSON (Expecting property name",
        ),
        (
            lambda h5, g: g.attrs.__setitem__("apex", "x"),
            "bad.h5: sample d/s/c1: attribute 'apex' is 'x'; expected an integer frame number",
        ),
        (
            lambda h5, g: g.attrs.__setitem__("id", "d/s/other"),
            "bad.h5: group /samples/d/s/c1 holds a sample whose id attribute is 'd/s/other' "
            "(a sample's id is its place: 'd/s/c1')",
        ),
        (
            lambda h5, g: _replace(g, "frame_numbers", np.arange(4)),
            "bad.h5: sample d/s/c1: the frame count is not the same in every array (frames 3, "
            "frame_numbers 4); each array holds one entry per frame",
        ),
        (
            lambda h5, g: _replace(g, "frames", np.zeros((3, 8, 8), np.float32)),
            "bad.h5: sample d/s/c1: array 'frames' is float32 (3, 8, 8); expected 3 or 4 dimensions "
            "of unsigned integers (uint8 pixels)",
        ),
        (
            lambda h5, g: h5.attrs.__setitem__("history_json", "5"),
            "bad.h5: root attribute 'history_json' is 5, not a list of earlier stages",
        ),
        (  # found by the fuzz test in a clean CI run: crop-rois indexed eye points 36-47 of 5
            lambda h5, g: g.create_dataset("landmarks_aligned", data=np.zeros((3, 5, 2), np.float32)),
            "bad.h5: sample d/s/c1: array 'landmarks_aligned' is float32 (3, 5, 2); expected (T, 68, 2): "
            "dlib's 68 landmarks per frame",
        ),
    ],
    ids=["json", "attribute", "id", "frame-count", "dtype", "history", "landmarks"],
)
def test_damaged_sample_files_exact_messages(tmp_path, monkeypatch, cli, damage, message):
    monkeypatch.chdir(tmp_path)
    _damaged(tmp_path / "bad.h5", damage)
    r = cli("spot-apex", "bad.h5", "-o", "out.h5")
    assert r.exit_code == 2
    assert f"error: {message}" in r.output
    assert "what to do: the file was not written by mertool, or was edited by hand: re-create it" in r.output


def test_a_sample_without_an_array_fails_alone(tmp_path, monkeypatch, cli):
    """crop-rois on a sample lacking its frame numbers: that sample is marked failed with the
    reason (naming the file), the stage goes on and exits 0."""
    monkeypatch.chdir(tmp_path)
    _damaged(tmp_path / "bad.h5", lambda h5, g: g.__delitem__("frame_numbers"))
    r = cli("crop-rois", "bad.h5", "-o", "out.h5", "--from", "frames")
    assert r.exit_code == 0, r.output
    # (crop-rois ran spot-apex first: the reason names the file given, not the temporary one)
    reason = "no array 'frame_numbers' in bad.h5 after spot-apex (it has: frames)"
    assert f"✗ d/s/c1: {reason}" in r.output
    from mertool.store import SampleFile

    with SampleFile(tmp_path / "out.h5") as sf:
        rec = sf.record("d/s/c1")
        assert not rec.ok and rec.get(S.A_ERROR) == reason
