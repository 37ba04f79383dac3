"""A sample file with the stage a model's inputs need, from whatever the user gave.

``train``, ``eval-loso`` and ``predict`` take a flow-stage (or crop-rois) sample file, an earlier
stage's file, or a dataset root / frames folder / video. Missing stages run first, in pipeline
order, into temporary files: detect-faces, spot-apex, then crop-rois (crop inputs) and/or flow
(flow inputs), each with its chaining options (spot-apex: the dataset's apex label, D&C-RoIs
where there is none). For ``predict``, the stages replay the settings recorded in the model file
(the flow options of the samples it trained on, and the face size, colour, apex method and region
settings of the training file's history), so a clip is prepared the way the training data was.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mertool.store import SampleFile
from mertool.store import schema as S

#: Recorded stage parameters that are safe to replay (name in the stage's params -> runner kwarg).
REPLAY = {
    S.STAGE_FACES: ("detector", "size", "color", "align"),
    S.STAGE_ROIS: ("regions", "size", "roi_size", "frames"),
}


def stage_chain(stage: str, recorded: list[str] | None = None) -> list[str]:
    """Stages to run, in order, to reach ``stage`` (what the training file went through, if known)."""
    if recorded:
        chain = [s for s in S.PIPELINE if s in recorded]
        if stage in chain:
            return chain[: chain.index(stage) + 1]
    chain = [S.STAGE_FACES, S.STAGE_APEX]
    if stage == S.STAGE_ROIS:
        chain.append(S.STAGE_ROIS)
    elif stage == S.STAGE_FLOW:
        chain.append(S.STAGE_FLOW)
    return chain


def flow_options(record: dict[str, Any] | None):
    """:class:`mertool.stages.flow.FlowOptions` from a sample's ``flow_params_json`` record."""
    if not record:
        return None
    from mertool.motion.optical_flow import FlowParams
    from mertool.stages.flow import FlowOptions

    params = dict(record.get("params") or {})
    known = set(inspect.signature(FlowParams).parameters)
    norm = record.get("normalization", "none")
    if isinstance(norm, dict):
        norm = norm.get("kind", "none")
    if norm == "dataset":
        norm = "none"  # per-dataset statistics of the training file cannot be recomputed on new clips
    return FlowOptions(
        preset=record.get("preset", "micro"),
        params=FlowParams(**{k: v for k, v in params.items() if k in known}),
        size=record.get("size"),
        strain=record.get("strain", "eq7"),
        normalization=norm,
    )


def _kwargs(name: str, replay: dict[str, Any], flow_record, dataset: str | None) -> dict[str, Any]:
    """What the model file recorded for stage ``name`` (on top of the stage's own chaining
    options, :func:`mertool.stages.chain.register_stage`)."""
    from mertool.stages.chain import stage as get_stage

    accepted = set(inspect.signature(get_stage(name).run).parameters)
    kw: dict[str, Any] = {}
    for key in REPLAY.get(name, ()):
        if key in replay and key in accepted and replay[key] is not None:
            v = replay[key]
            kw[key] = tuple(v) if isinstance(v, list) else v
    if name == S.STAGE_FACES and dataset and "dataset" in accepted:
        kw["dataset"] = dataset
    if name == S.STAGE_FLOW and flow_record:
        kw["options"] = flow_options(flow_record)
    if name == S.STAGE_APEX and replay:
        kw.update(apex_replay(replay))
    return kw


def apex_replay(recorded: dict[str, Any]) -> dict[str, Any]:
    """spot-apex keyword arguments from its recorded parameters: the same method, fallback and
    D&C-RoIs settings, so new clips get their apex the way the training clips did."""
    from dataclasses import fields

    from mertool.motion.apex import ApexOptions

    kw: dict[str, Any] = {"compare": ()}
    if recorded.get("method"):
        kw["method"] = recorded["method"]
        kw["fallback"] = recorded.get("fallback")
    known = {f.name for f in fields(ApexOptions)}
    kw["options"] = ApexOptions(**{k: v for k, v in recorded.items() if k in known})
    return kw


#: An array that shows a stage's outputs are present in a sample.
_MARKERS = {S.STAGE_FLOW: S.D_FLOW, S.STAGE_ROIS: f"{S.CROPS_GROUP}/face"}


def _has_outputs(sf: SampleFile, stage: str) -> bool:
    """True when the file's first usable sample already holds ``stage``'s outputs (a file made
    by other tools, or whose history does not list the stage)."""
    marker = _MARKERS.get(stage)
    if marker is None:
        return False
    for rec in sf.records(ok_only=True):
        return rec.has(marker)
    return False


@contextmanager
def prepared_samples(
    arg: str | Path | None,
    stage: str,
    recorded_stages: list[str] | None = None,
    stage_params: dict[str, dict[str, Any]] | None = None,
    flow_record: dict[str, Any] | None = None,
    dataset: str | None = None,
    command: str | None = None,
) -> Iterator[SampleFile]:
    """Yield an open sample file that has ``stage`` done (see module docstring); stages run on the
    way record ``command`` as theirs."""
    from mertool.stages.chain import chained

    chain = stage_chain(stage, recorded_stages)
    options = {
        name: _kwargs(name, (stage_params or {}).get(name, {}), flow_record, dataset) for name in chain
    }

    def ready(sf: SampleFile) -> bool:
        return stage in sf.stages_done or _has_outputs(sf, stage)

    with chained(arg, chain, options, ready, settings_name="the recorded settings", command=command) as sf:
        yield sf
