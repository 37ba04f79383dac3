"""A plain-data description of a sample file: what ``mertool inspect`` prints."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mertool.store import schema as S
from mertool.store.samplefile import SampleFile, reading


def describe(sf: SampleFile, max_samples: int | None = None) -> dict[str, Any]:
    """Provenance, history, per-sample summary (attributes and array shapes) and totals;
    ``data_roots``: the dataset roots the samples' frame paths are stored under."""
    samples = []
    status = Counter()
    labels = Counter()
    subjects = set()
    roots = set()
    for i, rec in enumerate(sf.records()):
        if rec.get(S.A_DATA_ROOT) is not None:
            roots.add(rec.get(S.A_DATA_ROOT))
        status[rec.get(S.A_STATUS, S.STATUS_OK)] += 1
        labels[rec.get(S.A_LABEL)] += 1
        subjects.add(rec.get(S.A_SUBJECT))
        if max_samples is not None and i >= max_samples:
            continue
        group = sf.group(rec.id)
        arrays = {}
        with reading(f"{sf.name}: sample {rec.id}"):
            for name in rec.array_names():
                ds = group[name]
                arrays[name] = {
                    "shape": list(ds.shape) if ds.shape is not None else None,
                    "dtype": str(ds.dtype),
                }
        samples.append(
            {
                "id": rec.id,
                "status": rec.get(S.A_STATUS, S.STATUS_OK),
                "error": rec.get(S.A_ERROR),
                "subject": rec.get(S.A_SUBJECT),
                "label": rec.get(S.A_LABEL),
                "onset": rec.get(S.A_ONSET),
                "apex": rec.get(S.A_APEX),
                "apex_spotted": rec.get(S.A_APEX_SPOTTED),
                "offset": rec.get(S.A_OFFSET),
                "data_root": rec.get(S.A_DATA_ROOT),
                "arrays": arrays,
            }
        )
    labels.pop(None, None)
    return {
        "file": sf.name,
        "format": sf.attrs.get("format"),
        "format_version": sf.attrs.get("format_version"),
        "complete": sf.complete,
        "provenance": sf.provenance,
        "history": sf.history,
        "stages": sf.stages_done,
        "data_roots": sorted(roots),
        "totals": {
            "samples": sum(status.values()),
            "ok": status.get(S.STATUS_OK, 0),
            "failed": status.get(S.STATUS_FAILED, 0),
            "subjects": len(subjects - {None}),
            "labels": dict(sorted(labels.items())),
        },
        "samples": samples,
    }
