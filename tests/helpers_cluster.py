"""Helpers of tests/test_cluster.py that Ray workers import (the test's Ray instance puts this
folder on the workers' PYTHONPATH): a fold job whose worker dies on purpose."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mertool.folds.executors import FoldJob
from mertool.folds.ray_executor import RayExecutor


@dataclass(frozen=True)
class DyingJob(FoldJob):
    """A FoldJob whose worker process exits (``os._exit``, as a killed or out-of-memory worker
    does) when it starts fold ``crash``: on its first attempt only (a marker file remembers it),
    or on every attempt with ``always``; with ``hang`` it sleeps that many seconds instead."""

    crash: str = ""
    marker_dir: str = ""
    always: bool = False
    hang: float = 0.0

    def compute(self, fold, device, emit):
        if fold.name == self.crash and self.hang:
            time.sleep(self.hang)
        elif fold.name == self.crash:
            marker = Path(self.marker_dir) / f"{fold.name.replace('/', '__')}.attempt"
            attempts = int(marker.read_text()) if marker.is_file() else 0
            marker.write_text(str(attempts + 1))
            if self.always or attempts == 0:
                os._exit(1)
        return super().compute(fold, device, emit)


@dataclass
class DyingExecutor(RayExecutor):
    """A RayExecutor that hands its tasks a :class:`DyingJob`."""

    crash: str = ""
    marker_dir: str = ""
    always: bool = False
    hang: float = 0.0

    def run(self, job, folds, emit, on_output):
        fields = {k: getattr(job, k) for k in FoldJob.__dataclass_fields__}
        dying = DyingJob(
            **fields, crash=self.crash, marker_dir=self.marker_dir, always=self.always, hang=self.hang
        )
        return super().run(dying, folds, emit, on_output)
