"""Stage orchestration: run one pipeline stage over every sample of a file.

One module per stage (``detect_faces``, ``spot_apex``, ``crop_rois``, ``flow``). Each provides what
it does to one sample (calling the pure functions of :mod:`mertool.face` / :mod:`mertool.motion`),
its options and its report, and registers its runner with :func:`mertool.stages.chain.register_stage`
so other stages can run it on a dataset root. The loop around the samples (``--resume``,
``--on-error``, worker processes, progress, counts) is :mod:`mertool.stages.engine`'s, written once.
"""

import importlib

STAGE_MODULES = ("detect_faces", "spot_apex", "crop_rois", "flow")

for _name in STAGE_MODULES:
    try:
        importlib.import_module(f"mertool.stages.{_name}")
    except ModuleNotFoundError as _exc:  # a stage not built yet in this checkout
        if _exc.name != f"mertool.stages.{_name}":
            raise
