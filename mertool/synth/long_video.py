"""Long synthetic videos for spotting: expressions among things that are not expressions.

A long video is one pseudo-subject (:mod:`mertool.synth.subjects`) filmed for ``duration_s``
seconds at the dataset's frame rate. Into it go, at random non-overlapping times (each in its own
slot of the timeline, at least :data:`MIN_GAP_S` apart):

* micro-expressions: the emotion AU patterns of the clip synth, 0.2-0.45 s from onset to offset,
  peak displacement ``micro_px`` (a few pixels);
* macro-expressions: the same patterns, 0.75-3.5 s (rise, hold at the apex, fall), larger
  (``macro_px``);

and the distractors a spotter must not report:

* eye blinks (AU 45, the upper lid closing and opening in 0.12-0.3 s);
* slow head turns (a smooth 0.8-2 s shift of 4-10 px with a small roll, the head staying in its
  new pose);
* illumination changes (a smooth 0.5-1.5 s change of exposure by 4-10 %, which stays).

Over all of it runs what the clip synth's camera does: a slow head drift, a faint flicker and
sensor noise. Every choice comes from a numpy Generator seeded with ``(seed, layout, subject,
video)``, so a seed writes the same bytes. The annotation file lists the expressions only, in the
dataset's own format (:mod:`mertool.synth.long_layouts`); ``long_truth.json`` lists every event,
distractors included, so a benchmark can count the distractors a spotter reports.

Frame indices here are 0-based within the video; files and annotations use the layout's
absolute frame numbers (``first_frame + index``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError

EXPRESSION_KINDS = ("micro", "macro")
DISTRACTOR_KINDS = ("blink", "head", "light")
MIN_GAP_S = 0.6  # between two events, and before the first / after the last
MAX_JACOBIAN = 0.85
TRUTH_NAME = "long_truth.json"
#: the release folder each layout writes under OUT_DIR, and which are greyscale (SAMM's camera)
ROOT_NAMES = {"casme2sq-long": "CASME_sq", "samm-long": "SAMM_longvideos"}
GRAY_LAYOUTS = ("samm-long",)
#: CAS(ME)^2's 22 participant folders (s15..s40, DATASETS.md section 6)
CASME_SQ_SUBJECTS = (15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 40)

#: per layout: label written in the annotation -> AU pattern (a key of EMOTION_PATTERNS)
LABEL_PATTERNS = {
    "casme2sq-long": {"positive": "happiness", "negative": "disgust", "surprise": "surprise"},
    "samm-long": {"happiness": "happiness", "anger": "anger", "surprise": "surprise", "contempt": "contempt"},
}


@dataclass(frozen=True)
class Event:
    """One event of a long video: frames ``onset..offset`` (0-based), the apex, what it is.

    Motion events: ``amount(t)`` is 0 at ``onset`` and ``offset``, 1 at ``apex`` (and, for macro,
    on the hold up to ``hold_end``). Head turns and light changes are smooth steps from 0 at
    ``onset`` to 1 at ``offset`` that stay at 1.
    """

    kind: str
    onset: int
    apex: int
    offset: int
    hold_end: int | None = None
    label: str | None = None
    pattern: str | None = None
    size: float = 0.0  # peak px (micro, macro, blink, head), or relative gain change (light)
    roll_deg: float = 0.0
    direction: tuple[float, float] = (1.0, 0.0)

    def amount(self, t: np.ndarray) -> np.ndarray:
        """(T,) float64 in [0, 1]: the event's intensity at frame indices ``t``."""
        t = np.asarray(t, np.float64)
        out = np.zeros_like(t)
        if self.kind in ("head", "light"):
            x = np.clip((t - self.onset) / max(self.offset - self.onset, 1), 0, 1)
            return 0.5 * (1 - np.cos(np.pi * x))
        hold = self.hold_end if self.hold_end is not None else self.apex
        rise = (t > self.onset) & (t <= self.apex)
        out[rise] = 0.5 * (1 - np.cos(np.pi * (t[rise] - self.onset) / max(self.apex - self.onset, 1)))
        out[(t > self.apex) & (t <= hold)] = 1.0
        fall = (t > hold) & (t < self.offset)
        out[fall] = 0.5 * (1 + np.cos(np.pi * (t[fall] - hold) / max(self.offset - hold, 1)))
        return out


@dataclass
class LongSynthConfig:
    """What to generate (see the module docstring); ``fps=None`` takes the dataset's rate."""

    layout: str = "casme2sq-long"
    subjects: int = 2
    videos_per_subject: int = 1
    duration_s: float = 20.0
    fps: float | None = None
    seed: int = 0
    size: tuple[int, int] = (320, 240)
    micro: int = 4
    macro: int = 2
    blinks: int = 3
    head_turns: int = 1
    light_changes: int = 1
    micro_px: tuple[float, float] = (2.0, 4.5)
    macro_px: tuple[float, float] = (5.0, 8.0)
    photos: tuple[str, ...] | None = None
    photo_dir: str | None = None

    def validate(self) -> None:
        from mertool.synth.long_layouts import LONG_LAYOUTS

        if self.layout not in LONG_LAYOUTS:
            raise MertoolError(
                f"unknown long layout {self.layout!r}", hint=f"one of: {', '.join(LONG_LAYOUTS)}"
            )
        if not 2.0 <= self.duration_s <= 600.0:
            raise MertoolError(f"--duration {self.duration_s} s is outside 2..600 s")
        if min(self.micro, self.macro, self.blinks, self.head_turns, self.light_changes) < 0:
            raise MertoolError("event counts must be 0 or more")
        if self.fps is not None and not 20 <= self.fps <= 1000:
            raise MertoolError(f"--fps {self.fps} is outside 20..1000")


def subject_numbers(layout: str, n: int) -> list[int]:
    """The dataset's own subject numbers for ``n`` pseudo-subjects (past the real list: counting on)."""
    if layout == "casme2sq-long":
        real = list(CASME_SQ_SUBJECTS)
    else:
        from mertool.synth.layouts import SammLayout

        return SammLayout().subject_numbers(n)
    return real[:n] + [real[-1] + 1 + k for k in range(max(0, n - len(real)))]


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


def _seconds(rng: np.random.Generator, lo: float, hi: float, fps: float) -> int:
    return max(2, int(round(rng.uniform(lo, hi) * fps)))


def draw_event(
    kind: str, fps: float, rng: np.random.Generator, config: LongSynthConfig, label: str | None
) -> Event:
    """An event of ``kind`` starting at frame 0 (placed later by :func:`plan_events`)."""
    pattern = LABEL_PATTERNS[config.layout].get(label) if label else None
    if kind == "micro":
        n = _seconds(rng, 0.2, 0.45, fps)
        apex = max(1, int(round(rng.uniform(0.3, 0.55) * n)))
        return Event(
            kind, 0, apex, n, label=label, pattern=pattern, size=float(rng.uniform(*config.micro_px))
        )
    if kind == "macro":
        rise, hold, fall = (
            _seconds(rng, 0.25, 0.8, fps),
            _seconds(rng, 0.2, 1.2, fps),
            _seconds(rng, 0.3, 1.0, fps),
        )
        return Event(
            kind, 0, rise, rise + hold + fall, hold_end=rise + hold, label=label, pattern=pattern,
            size=float(rng.uniform(*config.macro_px)),
        )  # fmt: skip
    if kind == "blink":
        n = _seconds(rng, 0.12, 0.3, fps)
        return Event(kind, 0, n // 2, n, size=float(rng.uniform(2.5, 4.0)))
    if kind == "head":
        n = _seconds(rng, 0.8, 2.0, fps)
        angle = rng.uniform(0, 2 * np.pi)
        return Event(
            kind, 0, n, n, size=float(rng.uniform(4.0, 10.0)), roll_deg=float(rng.uniform(-1.5, 1.5)),
            direction=(float(np.cos(angle)), float(np.sin(angle))),
        )  # fmt: skip
    if kind == "light":
        n = _seconds(rng, 0.5, 1.5, fps)
        return Event(kind, 0, n, n, size=float(rng.choice([-1, 1]) * rng.uniform(0.04, 0.10)))
    raise ValueError(kind)


def _shift(event: Event, by: int) -> Event:
    hold = None if event.hold_end is None else event.hold_end + by
    return Event(
        **{
            **asdict(event),
            "onset": event.onset + by,
            "apex": event.apex + by,
            "offset": event.offset + by,
            "hold_end": hold,
        }
    )


def plan_events(config: LongSynthConfig, fps: float, n_frames: int, rng: np.random.Generator) -> list[Event]:
    """Every event of one video, sorted by onset, non-overlapping, :data:`MIN_GAP_S` apart.

    The timeline is cut into one slot per event (in a random order of kinds); each event is put
    at a random place in its slot. Raises when the events do not fit in the duration.
    """
    labels = list(LABEL_PATTERNS[config.layout])
    kinds = (
        ["micro"] * config.micro + ["macro"] * config.macro + ["blink"] * config.blinks
        + ["head"] * config.head_turns + ["light"] * config.light_changes
    )  # fmt: skip
    if not kinds:
        return []
    order = [kinds[i] for i in rng.permutation(len(kinds))]
    start_label = int(rng.integers(len(labels)))
    events, n_expr = [], 0
    for kind in order:
        label = None
        if kind in EXPRESSION_KINDS:
            label = labels[(start_label + n_expr) % len(labels)]
            n_expr += 1
        events.append(draw_event(kind, fps, rng, config, label))
    gap = int(round(MIN_GAP_S * fps))
    need = sum(e.offset + 1 for e in events) + gap * (len(events) + 1)
    if need > n_frames:
        raise MertoolError(
            f"{len(events)} events need {need / fps:.1f} s but the video is {n_frames / fps:.1f} s",
            hint="raise --duration or ask for fewer events (--micro, --macro, --blinks, --head-turns, --light-changes)",
        )
    slack = n_frames - need
    # split the slack at random between the gaps: each event keeps its own slot
    cuts = np.sort(rng.integers(0, slack + 1, len(events)))
    placed, cursor = [], gap
    for event, extra in zip(events, np.diff(np.concatenate([[0], cuts]))):
        cursor += int(extra)
        placed.append(_shift(event, cursor))
        cursor += event.offset + 1 + gap
    return placed


@dataclass
class VideoPlan:
    subject_index: int
    subject_number: int
    video_index: int  # 1-based
    fps: float
    n_frames: int
    first_frame: int
    events: list[Event]
    noise_sigma: float
    jpeg_quality: int
    flicker: np.ndarray = field(repr=False)
    drift: np.ndarray = field(repr=False)  # (T, 2, 3)


def plan_video(
    config: LongSynthConfig, subject, subject_index: int, subject_number: int, video_index: int, fps: float
) -> VideoPlan:
    from mertool.synth.render import Camera, draw_head_motion

    rng = _rng(config.seed, 77, subject_index, video_index, 2)
    n = int(round(config.duration_s * fps))
    events = plan_events(config, fps, n, rng)
    camera = Camera.draw(n, fps, rng)
    drift = draw_head_motion(n, subject.face_centre, rng, max_shift_px=0.8, max_roll_deg=0.2)
    return VideoPlan(
        subject_index, subject_number, video_index, fps, n, 1, events, camera.noise_sigma, camera.jpeg_quality,
        camera.flicker, drift,
    )  # fmt: skip


def _expression_field(event: Event, subject, rng_seed: int) -> tuple[np.ndarray, list[str]]:
    from mertool.synth.action_units import AUSpec, Expression, draw_expression, expression_field, max_jacobian

    rng = np.random.default_rng(rng_seed)
    if event.kind == "blink":
        expression = Expression("blink", (AUSpec(45),), {"seed": int(rng.integers(2**31))})
    else:
        expression = draw_expression(event.pattern, rng)
    size = event.size
    for _ in range(8):  # keep the warp from folding the face: shrink until the Jacobian allows it
        fld, _mask, _ = expression_field(expression, subject.landmarks, subject.shape, size)
        if max_jacobian(fld) < MAX_JACOBIAN:
            break
        size *= 0.8
    return fld, expression.tokens


def head_transforms(plan: VideoPlan, centre: np.ndarray) -> np.ndarray:
    """(T, 2, 3) float32: the slow drift composed with every head turn (shift + roll about the
    face centre), each turn holding its end pose."""
    t = np.arange(plan.n_frames)
    shift = np.zeros((plan.n_frames, 2))
    roll = np.zeros(plan.n_frames)
    for e in plan.events:
        if e.kind == "head":
            a = e.amount(t)
            shift += a[:, None] * e.size * np.asarray(e.direction)[None]
            roll += a * np.radians(e.roll_deg)
    out = plan.drift.astype(np.float64).copy()
    c = np.asarray(centre, np.float64)
    for i in range(plan.n_frames):
        R = np.array([[np.cos(roll[i]), -np.sin(roll[i])], [np.sin(roll[i]), np.cos(roll[i])]])
        A, b = out[i, :, :2], out[i, :, 2]
        # turn after drift: x -> R (A x + b - c) + c + shift
        out[i, :, :2] = R @ A
        out[i, :, 2] = R @ (b - c) + c + shift[i]
    return out.astype(np.float32)


def gains(plan: VideoPlan) -> np.ndarray:
    """(T,) float32 exposure per frame: flicker times every illumination change."""
    t = np.arange(plan.n_frames)
    g = plan.flicker.astype(np.float64).copy()
    for e in plan.events:
        if e.kind == "light":
            g *= 1.0 + e.size * e.amount(t)
    return g.astype(np.float32)


def render_video(plan: VideoPlan, subject, seed: int, gray: bool = False) -> Iterator[np.ndarray]:
    """Yield the video's frames, uint8 (H, W, 3) RGB (or (H, W) with ``gray``), one at a time."""
    import cv2

    from mertool.synth.render import (
        field_with_jacobian,
        sensor_noise,
        source_coordinates,
        support_box,
        to_gray,
    )

    base = to_gray(subject.neutral) if gray else subject.neutral
    heads = head_transforms(plan, subject.face_centre)
    gain = gains(plan)
    noise_rng = _rng(seed, 77, plan.subject_index, plan.video_index, 4)
    moving = [e for e in plan.events if e.kind in ("micro", "macro", "blink")]
    active: dict[int, tuple[np.ndarray, np.ndarray, Any, np.ndarray]] = {}
    zero = np.zeros((*subject.shape, 2), np.float32)
    for t in range(plan.n_frames):
        field_, amount, box, stacked = zero, 0.0, None, None
        for k, e in enumerate(moving):
            if e.onset < t < e.offset:
                if k not in active:
                    active.clear()  # events never overlap: drop the previous one's arrays
                    fld, _ = _expression_field(e, subject, _seed_of(seed, plan, k))
                    active[k] = (
                        fld,
                        field_with_jacobian(fld),
                        support_box(fld),
                        e.amount(np.arange(plan.n_frames)),
                    )
                field_, stacked, box, profile = active[k]
                amount = float(profile[t])
                break
        mx, my = source_coordinates(field_, amount, heads[t], box if amount else None, stacked)
        img = cv2.remap(base, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        img *= gain[t]
        img += sensor_noise(img.shape, plan.noise_sigma, noise_rng)
        np.clip(img, 0, 255, out=img)
        img += 0.5
        yield img.astype(np.uint8)


def _seed_of(seed: int, plan: VideoPlan, k: int) -> int:
    return int(_rng(seed, 77, plan.subject_index, plan.video_index, 3, k).integers(2**31))


@dataclass
class LongSynthResult:
    out_dir: Path
    root: Path
    truth: Path
    annotation: list[Path]
    videos: int = 0
    frames: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def generate_long(
    out_dir: str | Path,
    config: LongSynthConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> LongSynthResult:
    """Write the long-video tree under ``out_dir`` (its annotation in the dataset's format) and
    ``out_dir/long_truth.json`` (every event, distractors included)."""
    import cv2

    from mertool.console import progress_task
    from mertool.synth import long_layouts as L
    from mertool.synth.generate import _mark, _marked, _no_progress, order_sources
    from mertool.synth.sources import select_sources
    from mertool.synth.subjects import make_subject

    config = config or LongSynthConfig()
    config.validate()
    started = time.perf_counter()
    out_dir = Path(out_dir)
    fps = float(config.fps or L.default_fps(config.layout))
    final = out_dir / ROOT_NAMES[config.layout]
    truth_path = out_dir / TRUTH_NAME
    existing = [p for p in (final, truth_path) if p.exists()]
    if existing and not overwrite:
        raise MertoolError(
            f"{existing[0]} already exists", hint="choose another OUT_DIR, or pass --overwrite"
        )
    for p in existing:
        if p.resolve() not in _marked(out_dir):
            raise MertoolError(f"{p} exists and was not written by mertool synth: not replacing it")
    cv2.setNumThreads(1)
    gray = config.layout in GRAY_LAYOUTS
    sources = order_sources(select_sources(config.photos, config.photo_dir), config.seed)
    numbers = subject_numbers(config.layout, config.subjects)
    # every video is planned (and every plan checked) before anything on disk is touched
    plans: list[tuple[VideoPlan, Any]] = []
    for si, number in enumerate(numbers):
        subject = make_subject(si, sources[si % len(sources)], config.size, _rng(config.seed, 77, si, 1))
        for vi in range(1, config.videos_per_subject + 1):
            plans.append((plan_video(config, subject, si, number, vi, fps), subject))
    for p in existing:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f".{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    result = LongSynthResult(out_dir, final, truth_path, [])
    rows, truth_videos = [], []
    try:
        total = sum(p.n_frames for p, _ in plans)
        with (
            progress_task("synth (long videos)", total) if progress else nullcontext(_no_progress) as advance
        ):
            for plan, subject in plans:
                for i, frame in enumerate(render_video(plan, subject, config.seed, gray)):
                    path = L.frame_path(
                        config.layout, partial, plan.subject_number, plan.video_index, plan.first_frame + i
                    )
                    if i == 0:
                        path.parent.mkdir(parents=True, exist_ok=True)
                    img = frame if gray else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
                    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, plan.jpeg_quality])
                    path.write_bytes(buf.tobytes())
                    advance(1)
                result.frames += plan.n_frames
                result.videos += 1
                rows.append(_row(plan))
                truth_videos.append(_truth_entry(config.layout, final, partial, plan, subject))
            result.annotation = [
                final / p.relative_to(partial) for p in L.write_annotation(config.layout, partial, rows)
            ]
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    counts: dict[str, int] = {}
    for v in truth_videos:
        for e in v["events"]:
            counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    result.counts = counts
    params = {k: v for k, v in asdict(config).items() if k not in ("photos", "photo_dir")}
    doc = {
        "format": "mertool-long-truth/1",
        "command": command,
        "params": params,
        "fps": fps,
        "root": os.path.relpath(final, out_dir),
        "videos": truth_videos,
    }
    tmp = truth_path.with_name(f".{truth_path.name}.partial")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, truth_path)
    _mark(out_dir, [final, truth_path])
    result.seconds = time.perf_counter() - started
    return result


def _row(plan: VideoPlan):
    from mertool.datasets.long_videos import Expression
    from mertool.synth.long_layouts import LongVideoRow

    f0 = plan.first_frame
    expressions = tuple(
        Expression(f0 + e.onset, f0 + e.offset, e.kind, apex=f0 + e.apex, label=e.label)
        for e in plan.events
        if e.kind in EXPRESSION_KINDS
    )
    return LongVideoRow(plan.subject_number, plan.video_index, f0, plan.n_frames, expressions)


def _truth_entry(layout: str, final: Path, partial: Path, plan: VideoPlan, subject) -> dict[str, Any]:
    from mertool.synth.long_layouts import video_dir

    f0 = plan.first_frame
    return {
        "video_dir": video_dir(layout, final, plan.subject_number, plan.video_index)
        .relative_to(final)
        .as_posix(),
        "subject_number": plan.subject_number,
        "video_index": plan.video_index,
        "source": subject.source,
        "fps": plan.fps,
        "first_frame": f0,
        "n_frames": plan.n_frames,
        "events": [
            {
                "kind": e.kind,
                "onset": f0 + e.onset,
                "apex": f0 + e.apex,
                "offset": f0 + e.offset,
                "label": e.label,
                "size": round(e.size, 4),
            }
            for e in plan.events
        ],
    }
