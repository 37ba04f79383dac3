"""Paper 000's YOLOv8s face detector on ultralytics: C2f_Star (+CBAM, +CAA) modules, their
registration with ultralytics' model parser, WIDER FACE conversion, training and evaluation.

Everything that imports ultralytics goes through :func:`import_ultralytics`, which first makes
ultralytics work offline (:func:`mertool.env.configure_ultralytics`), afterwards restores the
OpenCV thread count that ``import ultralytics`` resets to 0, and moves ultralytics' log output
from stdout to stderr (stdout is for data, see mertool.console).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

#: Folder of the model YAMLs shipped with mertool.
CFG_DIR = Path(__file__).resolve().parent / "cfg"


def import_ultralytics() -> ModuleType:
    """``import ultralytics`` offline-safe, keeping OpenCV's thread count; returns the module."""
    import sys

    from mertool.env import configure_ultralytics, set_cv2_threads

    configure_ultralytics()
    if "ultralytics" in sys.modules:
        return sys.modules["ultralytics"]
    import contextlib

    import cv2

    threads = cv2.getNumThreads()
    # ultralytics prints its settings notice on stdout when it first creates its settings file
    with contextlib.redirect_stdout(sys.stderr):
        import ultralytics

    set_cv2_threads(threads)
    logs_to_stderr()
    return ultralytics


class _CurrentStderr:
    """A stream that writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def write(self, text: str) -> int:
        import sys

        return sys.stderr.write(text)

    def flush(self) -> None:
        import sys

        sys.stderr.flush()


def logs_to_stderr() -> None:
    """Point ultralytics' console log handler at stderr (it writes to stdout by default)."""
    import logging

    for handler in logging.getLogger("ultralytics").handlers:
        # exactly ultralytics' own console handler: not file handlers, not test runners' capture handlers
        if type(handler) is logging.StreamHandler and not isinstance(handler.stream, _CurrentStderr):
            handler.setStream(_CurrentStderr())
