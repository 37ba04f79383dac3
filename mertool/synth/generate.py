"""``mertool synth``: plan the subjects and clips, render them, write the tree and the truth.

Determinism: every random choice comes from a numpy Generator seeded with the run's seed and
the place of the choice (dataset part, subject index, clip index), never from global state, so
a seed gives the same bytes on every run (frames, annotation files, ground truth), and adding
subjects or clips leaves the existing ones unchanged.

Class balance: each subject's clips cycle through the MEGC2019 classes (positive, negative,
surprise), starting at a subject-dependent class, so any ``clips_per_subject`` stays balanced;
the negative class cycles through the layout's negative emotions (CASME II disgust and
repression, SAMM anger, contempt and disgust, SMIC's negative AU patterns). Nothing but the AU
pattern depends on the class: subject, lighting, camera, drift, timing and intensity are drawn
from the same distributions for every class.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.datasets.labels import casme2_5_label, megc2019_label, normalise_emotion
from mertool.errors import MertoolError
from mertool.store import SampleWriter, input_record
from mertool.store import schema as S
from mertool.synth import truth as T
from mertool.synth.action_units import draw_expression, expression_field, max_jacobian
from mertool.synth.layouts import MEGC_CLASSES, ClipRow, Layout, parts
from mertool.synth.render import Camera, draw_head_motion, forward_flow, render_frames, support_box
from mertool.synth.sources import SourceFace, select_sources
from mertool.synth.subjects import Subject, make_subject
from mertool.synth.timecourse import DURATION_MS, draw_timecourse

MIN_HEIGHT = 160  # the face (half the frame height) must stay above dlib HOG's 80 px
MAX_JACOBIAN = 0.9  # an expression field steeper than this could fold the face over itself
SOURCE_OFFSET = 3  # part k of a megc2019 tree starts 3k photo faces further on


@dataclass
class SynthConfig:
    """What to generate. ``fps=None`` takes each dataset's own rate (CASME II and SAMM 200,
    SMIC-HS 100); ``size`` is (width, height) of every frame. ``photos`` names the bundled photos
    to make subjects from and ``photo_dir`` is a folder of the user's own (see
    :func:`~mertool.synth.sources.select_sources`); neither: every bundled photo."""

    layout: str = "casme2"
    subjects: int = 6
    clips_per_subject: int = 6
    fps: float | None = None
    seed: int = 0
    size: tuple[int, int] = (320, 240)
    duration_ms: tuple[float, float] = DURATION_MS
    intensity_px: tuple[float, float] = (1.8, 4.5)
    max_drift_px: float = 0.6
    photos: tuple[str, ...] | None = None
    photo_dir: str | None = None

    def validate(self) -> None:
        W, H = self.size
        if self.subjects < 1 or self.clips_per_subject < 1:
            raise MertoolError("--subjects and --clips-per-subject must be at least 1")
        if H < MIN_HEIGHT or W < H * 0.9:
            raise MertoolError(
                f"frame size {W}x{H} is too small",
                hint=f"use at least {int(MIN_HEIGHT * 4 / 3)}x{MIN_HEIGHT} (dlib HOG needs faces of 80 px)",
            )
        if self.fps is not None and not 20 <= self.fps <= 1000:
            raise MertoolError(f"--fps {self.fps} is outside 20..1000")
        lo, hi = self.intensity_px
        if not 0 < lo <= hi:
            raise MertoolError(f"intensity range {self.intensity_px} must be positive and increasing")


@dataclass
class SynthResult:
    out_dir: Path
    layout: str
    roots: dict[str, Path]  # dataset name -> its root folder
    truth: Path
    clips: int = 0
    frames: int = 0
    seconds: float = 0.0
    sources: list[str] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)

    @property
    def dataset_root(self) -> Path:
        """The root to hand to the stages: the dataset's folder, or OUT_DIR for megc2019."""
        return self.out_dir if self.layout == "megc2019" else next(iter(self.roots.values()))


def per_frame_displacement(field: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """(T, H, W, 2) float16 ``profile[t] * field`` in steps of :data:`truth.DISPLACEMENT_STEP`,
    computed only where the field is nonzero."""
    out = np.zeros((len(profile), *field.shape), np.float16)
    box = support_box(field, pad=0)
    if box is None:
        return out
    sy, sx = box
    part = profile.astype(np.float32)[:, None, None, None] * field[sy, sx][None]
    step = np.float32(T.DISPLACEMENT_STEP)
    out[:, sy, sx] = (np.round(part / step) * step).astype(np.float16)
    return out


def _no_progress(n: int = 1, status: str = "") -> None:
    """Stand-in for a progress bar's ``advance`` when none is shown."""


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


def subject_rng(seed: int, layout: Layout, subject_index: int) -> np.random.Generator:
    """The generator a subject is drawn from. Clip ``ci`` of that subject draws from
    ``(seed, part, subject, ci, 2)`` and its sensor noise from ``(seed, part, subject, ci, 4)``."""
    return _rng(seed, layout.part_code, subject_index, 1)


def order_sources(sources: tuple[SourceFace, ...], seed: int) -> list[SourceFace]:
    """Originals first, then mirror images, each group in a seeded order: the first subjects
    are as different as the photos allow."""
    rng = _rng(seed, 0, 7)
    out: list[SourceFace] = []
    for mirrored in (False, True):
        group = [s for s in sources if s.mirrored == mirrored]
        out += [group[i] for i in rng.permutation(len(group))]
    return out


def class_plan(subject_index: int, n_clips: int) -> list[str]:
    """MEGC2019 class of each clip of one subject (cycling, starting at a subject-dependent class)."""
    return [MEGC_CLASSES[(subject_index + k) % len(MEGC_CLASSES)] for k in range(n_clips)]


def emotion_plan(layout: Layout, subject_index: int, n_clips: int) -> list[str]:
    """Native emotion of each clip of one subject: :func:`class_plan`, the negative class cycling
    through the layout's negative emotions from a subject-dependent start. Depends only on the
    subject's index and the clip's position, so adding clips or subjects changes no existing clip."""
    emotions, negatives = [], 0
    for cls in class_plan(subject_index, n_clips):
        choices = layout.emotions[cls]
        if cls == "negative":
            emotions.append(choices[(subject_index + negatives) % len(choices)])
            negatives += 1
        else:
            emotions.append(choices[0])
    return emotions


def generate(
    out_dir: str | Path,
    config: SynthConfig | None = None,
    truth_path: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> SynthResult:
    """Write the dataset tree(s) under ``out_dir`` and the ground truth (default
    ``out_dir/synth_truth.h5``, whose provenance records ``command``). Refuses to replace existing
    output unless ``overwrite``."""
    import cv2

    from mertool.console import progress_task

    config = config or SynthConfig()
    config.validate()
    started = time.perf_counter()
    out_dir = Path(out_dir)
    layouts = parts(config.layout)
    truth_file = Path(truth_path) if truth_path is not None else out_dir / T.DEFAULT_NAME
    finals = {lay.name: out_dir / lay.root_name for lay in layouts}
    existing = [p for p in [*finals.values(), truth_file] if p.exists()]
    if existing and not overwrite:
        raise MertoolError(
            f"{existing[0]} already exists",
            hint="choose another OUT_DIR, or pass --overwrite to replace the synthetic data there",
        )
    written_before = _marked(out_dir)
    for p in existing:
        if p.resolve() not in written_before:
            raise MertoolError(
                f"{p} exists and was not written by mertool synth: not replacing it",
                hint="choose another OUT_DIR (--overwrite only replaces what mertool synth wrote)",
            )
    for p in existing:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    cv2.setNumThreads(1)

    sources = order_sources(select_sources(config.photos, config.photo_dir), config.seed)
    chosen = list(dict.fromkeys(s.photo for s in sources))
    # the default (every bundled photo) records no photo keys, so its truth file stays as it was
    params = {k: v for k, v in asdict(config).items() if k not in ("photos", "photo_dir")}
    params["sources"] = [s.name for s in sources]
    if config.photos is not None or config.photo_dir is not None:
        params["photos"] = chosen
    if config.photo_dir is not None:
        params["photo_dir"] = str(config.photo_dir)
    photo_inputs = {s.path for s in sources}
    inputs = [input_record(p, kind="photo") for p in sorted(photo_inputs)]
    result = SynthResult(
        out_dir,
        config.layout,
        finals,
        truth_file,
        sources=[s.name for s in sources],
        photos=chosen,
    )
    n_total = len(layouts) * config.subjects * config.clips_per_subject
    partials = []
    try:
        with (
            SampleWriter(truth_file, T.STAGE, params=params, inputs=inputs, command=command) as writer,
            progress_task("synth", n_total) if progress else nullcontext(_no_progress) as advance,
        ):
            for part_index, layout in enumerate(layouts):
                partial = out_dir / f".{layout.root_name}.partial"
                partials.append(partial)
                if partial.exists():
                    shutil.rmtree(partial)
                partial.mkdir(parents=True)
                _write_part(
                    layout, partial, finals[layout.name], part_index, sources, config, writer, result, advance
                )
            for layout, partial in zip(layouts, partials):
                os.replace(partial, finals[layout.name])
    except BaseException:
        for partial in partials:
            shutil.rmtree(partial, ignore_errors=True)
        truth_file.with_name(f".{truth_file.name}.partial").unlink(missing_ok=True)  # no --resume here
        raise
    _mark(out_dir, [*finals.values(), truth_file])
    result.seconds = time.perf_counter() - started
    return result


#: Lists what mertool synth wrote into an OUT_DIR, so --overwrite replaces only that.
MARKER = ".mertool-synth.json"


def _marked(out_dir: Path) -> set[Path]:
    import json

    try:
        listed = json.loads((out_dir / MARKER).read_text())["written"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {(out_dir / p).resolve() for p in listed}


def _mark(out_dir: Path, paths: list[Path]) -> None:
    import json

    listed = {os.path.relpath(p.resolve(), out_dir.resolve()) for p in paths}
    listed |= {os.path.relpath(p, out_dir.resolve()) for p in _marked(out_dir)}
    (out_dir / MARKER).write_text(json.dumps({"written": sorted(listed)}, indent=1) + "\n")


def _write_part(
    layout: Layout,
    root: Path,
    final_root: Path,
    part_index: int,
    sources: list[SourceFace],
    config: SynthConfig,
    writer: SampleWriter,
    result: SynthResult,
    advance,
) -> None:
    fps = float(config.fps or layout.fps)
    rows: list[ClipRow] = []
    neutral_frames: dict[str, np.ndarray] = {}
    for si, number in enumerate(layout.subject_numbers(config.subjects)):
        # parts of a megc2019 tree start at different photos
        source = sources[(si + SOURCE_OFFSET * part_index) % len(sources)]
        subject = make_subject(si, source, config.size, subject_rng(config.seed, layout, si))
        subject_id = layout.subject_id(number)
        neutral_frames[subject_id] = np.clip(subject.neutral + 0.5, 0, 255).astype(np.uint8)
        emotions = emotion_plan(layout, si, config.clips_per_subject)
        names = layout.clip_names(number, emotions, _rng(config.seed, layout.part_code, si, 3))
        for ci, (emotion, clip) in enumerate(zip(emotions, names)):
            keys = (config.seed, layout.part_code, si, ci)
            row = _write_clip(
                layout,
                root,
                final_root,
                subject,
                number,
                subject_id,
                clip,
                emotion,
                ci,
                fps,
                config,
                keys,
                writer,
            )
            rows.append(row)
            result.clips += 1
            result.frames += len(row.frame_numbers)
            advance(1, f"{layout.name}/{subject_id}/{clip}")
    rows.sort(key=lambda r: (r.subject_number, r.clip))
    layout.write_annotation(root, rows)
    layout.write_extras(root, rows, neutral_frames)


@dataclass
class Clip:
    """One clip's motion and capture, everything drawn but the sensor noise (see :func:`plan_clip`)."""

    timecourse: Any  # timecourse.TimeCourse
    first_frame: int
    extra: dict[str, Any]
    peak_px: float
    camera: Camera
    head: np.ndarray  # (T, 2, 3)
    pattern: str
    expression: Any  # action_units.Expression
    field: np.ndarray  # (H, W, 2) apex displacement
    mask: np.ndarray  # (H, W) bool
    jacobian: float

    @property
    def profile(self) -> np.ndarray:
        return self.timecourse.profile()

    @property
    def frame_numbers(self) -> list[int]:
        return [self.first_frame + i for i in range(self.timecourse.n_frames)]

    def frames(self, subject: Subject, noise_rng: np.random.Generator, gray: bool = False):
        """The rendered frames, uint8 (see :func:`mertool.synth.render.render_frames`)."""
        return render_frames(
            subject.neutral, self.field, self.profile, self.head, self.camera, noise_rng, gray
        )


def plan_clip(
    layout: Layout, subject: Subject, pattern: str, fps: float, config: SynthConfig, rng: np.random.Generator
) -> Clip:
    """Draw one clip. Everything but the expression is drawn first, from the same distributions
    for every class, so two clips with the same seed key but different patterns differ only in
    their expression field (the sensor noise comes from a separate generator)."""
    tc = draw_timecourse(fps, rng, config.duration_ms)
    first = layout.first_frame(rng)
    extra = layout.clip_extra(rng)
    peak = float(rng.uniform(*config.intensity_px))
    camera = Camera.draw(tc.n_frames, fps, rng)
    head = draw_head_motion(tc.n_frames, subject.face_centre, rng, config.max_drift_px)
    expression = draw_expression(pattern, rng)
    field, mask, _ = expression_field(expression, subject.landmarks, subject.shape, peak)
    return Clip(tc, first, extra, peak, camera, head, pattern, expression, field, mask, max_jacobian(field))


def _write_clip(
    layout: Layout,
    root: Path,
    final_root: Path,
    subject: Subject,
    number: int,
    subject_id: str,
    clip_name: str,
    emotion: str,
    clip_index: int,
    fps: float,
    config: SynthConfig,
    keys: tuple[int, ...],
    writer: SampleWriter,
) -> ClipRow:
    pattern = layout.pattern(emotion, clip_index)
    clip = plan_clip(layout, subject, pattern, fps, config, _rng(*keys, 2))
    sid = T.sample_id(layout.name, subject_id, clip_name)
    if clip.jacobian >= MAX_JACOBIAN:
        raise MertoolError(
            f"{sid}: a {clip.peak_px:.1f} px expression folds the face (Jacobian {clip.jacobian:.2f}) "
            "at this frame size",
            hint="lower the intensity range or use a larger --size",
        )
    tc = clip.timecourse
    numbers = clip.frame_numbers
    row = ClipRow(
        subject_number=number,
        subject=subject_id,
        clip=clip_name,
        emotion=emotion,
        aus=clip.expression.tokens,
        frame_numbers=numbers,
        onset=numbers[0],
        apex=numbers[tc.apex],
        offset=numbers[-1],
        extra=clip.extra,
    )
    paths = [layout.frame_path(root, row, n) for n in numbers]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    for path, frame in zip(paths, clip.frames(subject, _rng(*keys, 4), gray=layout.gray)):
        path.write_bytes(layout.encode(frame, clip.camera.jpeg_quality))

    native = normalise_emotion(emotion)
    labels = {"native": native, "megc2019": megc2019_label(layout.name, native, subject_id, clip_name)}
    if layout.name == "casme2":
        labels["casme2-5"] = casme2_5_label(native)
    base = writer.target.parent  # type: ignore[union-attr]
    rel = [os.path.relpath(final_root / p.relative_to(root), base) for p in paths]
    attrs: dict[str, Any] = {
        S.A_DATASET: layout.name,
        S.A_SUBJECT: subject_id,
        S.A_CLIP: clip_name,
        S.A_EMOTION: native,
        S.A_LABEL_MAP: "megc2019",
        S.A_LABEL: labels["megc2019"],
        S.A_LABELS_JSON: labels,
        S.A_ONSET: row.onset,
        # SMIC ships no annotation, so its reader gives no apex: the truth's is true_apex
        S.A_APEX: None if layout.name == "smic" else row.apex,
        S.A_OFFSET: row.offset,
        S.A_FPS: fps,
        S.A_AUS: clip.expression.tokens,
        S.A_AUS_RAW: "+".join(clip.expression.tokens),
        T.A_TRUE_APEX: row.apex,
        T.A_MOTION_START: numbers[tc.start],
        T.A_MOTION_END: numbers[tc.end],
        T.A_PEAK: clip.peak_px,
        T.A_PATTERN: pattern,
        T.A_SOURCE: subject.source,
        T.A_LAYOUT_ROOT: os.path.relpath(final_root, base),
        T.A_PARAMS: {
            "subject": subject.params,
            "timecourse": asdict(tc),
            "max_jacobian": clip.jacobian,
            "camera": {"noise_sigma": clip.camera.noise_sigma, "jpeg_quality": clip.camera.jpeg_quality},
            "expression": {"aus": [asdict(a) for a in clip.expression.aus], "jitter": clip.expression.jitter},
            "layout": clip.extra,
        },
    }
    arrays = {
        T.D_DISPLACEMENT: per_frame_displacement(clip.field, clip.profile),
        T.D_FLOW: T.quantise(forward_flow(clip.field, 1.0, clip.head[tc.apex]), T.FLOW_STEP, np.float32),
        T.D_MASK: clip.mask,
        T.D_HEAD: clip.head,
        T.D_PROFILE: clip.profile,
        T.D_LANDMARKS: subject.landmarks,
        S.D_FRAME_NUMBERS: np.asarray(numbers, np.int32),
        S.D_FRAME_PATHS: rel,
    }
    writer.write(sid, arrays=arrays, attrs=attrs)
    return row
