"""The ``flow`` stage: optical flow onset -> apex, optical strain and the difference image per clip.

For each sample: the onset frame is the ``onset`` attribute's frame (else the first frame); the apex
is ``apex_spotted`` (spot-apex) if present, else the dataset's ``apex`` label, else the sample fails
with "no apex: run mertool spot-apex first". The two frames come from ``crops/face`` (crop-rois
output, at ``crop_frame_numbers``) when it holds both, else from ``frames`` (detect-faces output);
``size`` resizes them (area interpolation when shrinking, bilinear when enlarging) first. Outputs
(schema names): ``flow`` (H, W, 2), ``strain`` (H, W), ``diff`` (H, W[, 3]), ``onset_image``,
``apex_image``; attributes ``flow_method``, ``flow_params_json`` and ``normalization``.

Clips run in parallel across the cores (:mod:`mertool.stages.engine`: worker processes started
with ``spawn``, each with an explicit OpenCV thread count, since ``import ultralytics`` resets it to
0, which makes TV-L1 single-threaded). ``thread_plan``, ``parallel_map`` and ``reason_of`` are the
engine's, importable from here as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError, SampleError
from mertool.motion.optical_flow import DEFAULT_PRESET, FlowParams, preset
from mertool.stages.chain import register_stage
from mertool.stages.engine import StageReport, parallel_map, reason_of, run_samples, thread_plan  # noqa: F401
from mertool.store import SampleFile, SampleRecord, open_output
from mertool.store import schema as S
from mertool.store.samplefile import reading

# ------------------------------------------------------------------------------------------------
# one pair of frames -> the stage's arrays (pure; runs in a worker)


@dataclass(frozen=True)
class FlowOptions:
    """Everything the flow stage does to one pair (recorded in ``flow_params_json``)."""

    preset: str = DEFAULT_PRESET
    params: FlowParams = field(default_factory=lambda: preset(DEFAULT_PRESET))
    size: int | None = None
    strain: str = "eq7"
    normalization: str = "none"

    def record(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "params": self.params.as_dict(),
            "size": self.size,
            "strain": self.strain,
            "normalization": self.normalization,
        }


def resize_pair(onset: np.ndarray, apex: np.ndarray, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Both frames at ``size`` x ``size`` (unchanged for None)."""
    if size is None:
        return onset, apex
    import cv2

    def one(img: np.ndarray) -> np.ndarray:
        interp = cv2.INTER_AREA if min(img.shape[:2]) > size else cv2.INTER_LINEAR
        return cv2.resize(img, (size, size), interpolation=interp)

    return one(onset), one(apex)


def motion_maps(onset: np.ndarray, apex: np.ndarray, options: FlowOptions) -> dict[str, np.ndarray]:
    """Flow, strain, difference and the two frames (resized) for one pair of uint8 frames of one size.

    Raises ValueError for frames of different sizes. No normalisation (see :func:`normalized`).
    """
    from mertool.motion.difference import difference_image
    from mertool.motion.optical_flow import check_pair, compute_flow
    from mertool.motion.strain import optical_strain

    check_pair(onset, apex)
    if onset.shape != apex.shape:
        raise ValueError(f"frame shapes differ: onset {onset.shape}, apex {apex.shape}")
    onset, apex = resize_pair(onset, apex, options.size)
    flow = compute_flow(onset, apex, options.params)
    return {
        S.D_FLOW: flow,
        S.D_STRAIN: optical_strain(flow, options.strain),
        S.D_DIFF: difference_image(onset, apex),
        S.D_ONSET_IMAGE: onset,
        S.D_APEX_IMAGE: apex,
    }


def _flow_task(task: tuple[str, np.ndarray, np.ndarray, FlowOptions]) -> tuple[str, Any, dict[str, Any]]:
    """Worker entry: ``(id, maps or an error reason, info)``; ``minmax`` normalisation is applied here
    (``dataset`` needs every sample and is applied by the stage afterwards)."""
    import cv2

    from mertool.motion.normalize import minmax_maps

    sample_id, onset, apex, options = task
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    try:
        maps: Any = motion_maps(onset, apex, options)
    except (ValueError, cv2.error) as exc:
        return sample_id, f"cannot compute the flow: {exc}", info
    except SampleError as exc:
        return sample_id, reason_of(exc), info
    info["mean_magnitude"] = float(np.linalg.norm(maps[S.D_FLOW], axis=-1).mean())
    info["seconds"] = time.perf_counter() - t0
    if options.normalization == "minmax":
        normed, params = minmax_maps(maps)
        maps.update(normed)
        info["normalization"] = {"kind": "minmax", **params}
    return sample_id, maps, info


# ------------------------------------------------------------------------------------------------
# choosing the pair of frames of one sample


@dataclass
class Pair:
    onset: np.ndarray
    apex: np.ndarray
    onset_frame: int
    apex_frame: int
    apex_source: str  # "apex_spotted" or "apex"
    frames_from: str  # "crops/face" or "frames"


def pick_pair(rec: SampleRecord) -> Pair:
    """The onset and apex frames of one sample (module docstring); SampleError when impossible."""
    if not rec.has(S.D_FRAMES) and not rec.has(f"{S.CROPS_GROUP}/face"):
        raise SampleError(
            rec.id,
            "no face frames (array 'frames')",
            hint="run mertool detect-faces first (or give a dataset root)",
        )
    if rec.get(S.A_APEX_SPOTTED) is not None:
        apex, apex_source = int(rec.get(S.A_APEX_SPOTTED)), S.A_APEX_SPOTTED
    elif rec.get(S.A_APEX) is not None:
        apex, apex_source = int(rec.get(S.A_APEX)), S.A_APEX
    else:
        raise SampleError(
            rec.id,
            "no apex: the clip has no labelled apex and none was spotted",
            hint="run mertool spot-apex first: … | mertool spot-apex | mertool flow",
        )
    candidates = []
    crops = f"{S.CROPS_GROUP}/face"
    if rec.has(crops) and rec.has(S.D_CROP_FRAME_NUMBERS):
        candidates.append((crops, S.D_CROP_FRAME_NUMBERS))
    if rec.has(S.D_FRAMES):
        candidates.append((S.D_FRAMES, S.D_FRAME_NUMBERS))
    for array_name, numbers_name in candidates:
        if not rec.has(numbers_name):
            continue
        numbers = np.asarray(rec.array(numbers_name)).astype(np.int64)
        if rec.get(S.A_ONSET) is None and not len(numbers):
            continue
        onset = int(rec.get(S.A_ONSET)) if rec.get(S.A_ONSET) is not None else int(numbers[0])
        if onset == apex:
            raise SampleError(
                rec.id,
                f"onset equals apex (frame {onset}): the flow between a frame and itself is zero",
                hint="check the annotation, or spot the apex (mertool spot-apex --method dc-rois)",
            )
        if onset in numbers and apex in numbers:
            i_on = int(np.flatnonzero(numbers == onset)[0])
            i_ap = int(np.flatnonzero(numbers == apex)[0])
            with reading(f"{rec.file_name}: sample {rec.id}: array {array_name!r}"):
                frames = _open_array(rec, array_name)
                on_img, ap_img = np.asarray(frames[i_on]), np.asarray(frames[i_ap])
            return Pair(on_img, ap_img, onset, apex, apex_source, array_name)
    if not candidates or not any(rec.has(n) for _, n in candidates):
        raise SampleError(
            rec.id, "no frame numbers stored beside the frames", hint="re-run mertool detect-faces"
        )
    raise SampleError(
        rec.id,
        f"onset frame {rec.get(S.A_ONSET)} or apex frame {apex} is not among the clip's frames",
        hint="check the annotation (mertool inspect FILE lists frames), or spot the apex again",
    )


def _open_array(rec: SampleRecord, name: str) -> Any:
    """The HDF5 dataset itself (indexable without reading every frame)."""
    group = rec._group
    return group[name] if group is not None else rec.array(name)


# ------------------------------------------------------------------------------------------------
# the stage


@dataclass
class FlowReport(StageReport):
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pairs_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "clips": self.rows,
            **self.counts(),
            "pairs_per_second": self.pairs_per_second,
            "processes": self.processes,
            "cv2_threads": self.cv2_threads,
        }


def _flow_work(task: tuple[str, Pair, FlowOptions]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Worker entry of the stage: ``(maps, info)`` for one sample's pair; SampleError naming the
    frames when the flow cannot be computed."""
    sample_id, pair, options = task
    _, result, info = _flow_task((sample_id, pair.onset, pair.apex, options))
    if isinstance(result, str):
        raise SampleError(
            sample_id, f"{result} (onset frame {pair.onset_frame}, apex frame {pair.apex_frame})"
        )
    return result, info


def process(
    sf: SampleFile,
    output: str | Path | None,
    options: FlowOptions = FlowOptions(),
    on_error: str = "skip",
    resume: bool = False,
    retry_failed: bool = False,
    workers: int = 0,
    cv2_threads: int = 0,
    command_params: dict[str, Any] | None = None,
    command: str | None = None,
) -> FlowReport:
    """Run the flow stage over every sample of ``sf`` into ``output`` (path, '-' or None).
    ``resume`` keeps the samples already in ``output``; ``retry_failed`` (implies ``resume``)
    does those that failed again. ``command``: the command line recorded in the output."""
    from mertool.motion import normalize

    if options.params.method == "tvl1":
        from mertool.env import require_tvl1

        require_tvl1()
    if options.normalization not in normalize.KINDS:
        raise MertoolError(
            f"unknown normalisation {options.normalization!r}", hint=f"one of: {', '.join(normalize.KINDS)}"
        )
    if options.normalization == "dataset" and (resume or retry_failed):
        raise MertoolError(
            "--normalize dataset needs every sample in one run (its statistics cover them all); it cannot --resume",
            hint="drop --resume, or normalise with minmax / none",
        )
    params = {**options.record(), "on_error": on_error, **(command_params or {})}
    report = FlowReport()
    run_flags = {"resume": resume, "retry_failed": retry_failed, "command": command}
    with open_output(output, S.STAGE_FLOW, params=params, source=sf, **run_flags) as writer:
        held: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # dataset normalisation

        def prepare(rec: SampleRecord) -> tuple[str, Pair, FlowOptions]:
            return rec.id, pick_pair(rec), options

        def finish(rec: SampleRecord, task: tuple[str, Pair, FlowOptions], out: tuple[dict, dict]) -> None:
            sid, pair, _ = task
            result, info = out
            record = {
                **options.record(),
                "onset_frame": pair.onset_frame,
                "apex_frame": pair.apex_frame,
                "apex_from": pair.apex_source,
                "frames_from": pair.frames_from,
                "units": f"pixels of the {result[S.D_FLOW].shape[1]}x{result[S.D_FLOW].shape[0]} face",
            }
            if "normalization" in info:
                record["normalization"] = info["normalization"]
            attrs = {
                S.A_FLOW_METHOD: options.params.method,
                S.A_FLOW_PARAMS_JSON: record,
                S.A_NORMALIZATION: options.normalization,
            }
            report.rows.append(
                {
                    "id": sid,
                    "onset": pair.onset_frame,
                    "apex": pair.apex_frame,
                    "apex_from": pair.apex_source,
                    "frames_from": pair.frames_from,
                    "size": list(result[S.D_FLOW].shape[:2]),
                    "mean_magnitude": info["mean_magnitude"],
                    "ms": info["seconds"] * 1000.0,
                }
            )
            if options.normalization == "dataset":
                held[sid] = (result, attrs)
            else:
                writer.write(rec, arrays=result, attrs=attrs)

        run_samples(
            sf.ids(),
            sf.record,
            writer,
            report,
            label="flow",
            prepare=prepare,
            work=_flow_work,
            finish=finish,
            on_error=on_error,
            workers=workers,
            cv2_threads=cv2_threads,
        )
        if held:
            _write_dataset_normalized(sf, writer, held)
    return report


def _write_dataset_normalized(sf: SampleFile, writer: Any, held: dict[str, tuple[dict, dict]]) -> None:
    """Per-dataset mean/std over the held samples, applied and recorded, then written."""
    from mertool.motion.normalize import RunningStats, apply_dataset_stats

    by_dataset: dict[str, RunningStats] = {}
    for sid, (arrays, _) in held.items():
        key = str(sf.record(sid).get(S.A_DATASET, ""))
        by_dataset.setdefault(key, RunningStats()).add(arrays)
    stats = {key: rs.result() for key, rs in by_dataset.items()}
    counts: dict[str, int] = {}
    for sid in held:
        key = str(sf.record(sid).get(S.A_DATASET, ""))
        counts[key] = counts.get(key, 0) + 1
    for sid, (arrays, attrs) in held.items():
        rec = sf.record(sid)
        key = str(rec.get(S.A_DATASET, ""))
        arrays.update(apply_dataset_stats(arrays, stats[key]))
        attrs[S.A_FLOW_PARAMS_JSON]["normalization"] = {
            "kind": "dataset",
            "over": key or "(no dataset attribute)",
            "n_samples": counts[key],
            **stats[key],
        }
        writer.write(rec, arrays=arrays, attrs=attrs)


def run(source: str | Path, output: str | Path, **kwargs: Any) -> FlowReport:
    """Stage runner for chaining (:func:`mertool.stages.chain.register_stage`): defaults unless given."""
    with SampleFile(source) as sf:
        return process(sf, output, **kwargs)


register_stage(S.STAGE_FLOW, run, requires=(S.STAGE_FACES, S.STAGE_APEX))
