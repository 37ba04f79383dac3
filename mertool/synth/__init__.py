"""Synthetic micro-expression datasets with ground truth, made from the face photos that
installed packages ship (see docs/synth.md).

    from mertool.synth import SynthConfig, generate
    result = generate("demo/synth", SynthConfig(layout="casme2", subjects=6, clips_per_subject=6))
    result.dataset_root   # -> demo/synth/CASME2, what the stages read
    result.truth          # -> demo/synth/synth_truth.h5, onset/apex/offset, labels, flow, masks

Modules, one idea each: :mod:`~mertool.synth.sources` (the photos and their landmarks),
:mod:`~mertool.synth.subjects` (pseudo-subjects), :mod:`~mertool.synth.action_units` (AU
displacement fields and the emotion -> AU table), :mod:`~mertool.synth.timecourse` (onset ->
apex -> offset), :mod:`~mertool.synth.render` (warping and camera effects),
:mod:`~mertool.synth.layouts` (the datasets' trees and annotation files),
:mod:`~mertool.synth.truth` (the ground-truth file), :mod:`~mertool.synth.generate`.
"""

from mertool.synth.generate import SynthConfig, SynthResult, generate

__all__ = ["SynthConfig", "SynthResult", "generate"]
