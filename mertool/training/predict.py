"""``mertool predict MODEL INPUT``: labels and probabilities from a model file alone.

INPUT is a sample file that already has the stage the model's inputs come from (``flow`` for
flow/apex/onset/diff inputs, ``crop-rois`` for crops), an earlier stage's file, or a dataset
root / frames folder / video: the missing stages run first with the settings the model file
recorded (:func:`mertool.training.prepare.prepared_samples`). Everything else (inputs, input size, channels, normalisation statistics,
classes) comes from the model file.

MODEL is a ``.pt`` from ``mertool train`` or a ``.onnx`` from ``mertool export`` (which carries the
same metadata); ``runtime="onnx"`` runs the batches through onnxruntime (a ``.pt`` is exported in
memory first, and checked, by :mod:`mertool.training.export`), with probabilities equal to
PyTorch's within the export's tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mertool.errors import MertoolError

#: What ``predict --runtime`` runs the model on.
RUNTIMES = ("torch", "onnx")


def predict(
    model_path: str | Path,
    source: str | Path | None,
    device: str = "cpu",
    batch_size: int = 64,
    dataset: str | None = None,
    runtime: str | None = None,
) -> dict[str, Any]:
    """Predict every usable sample of ``source``; JSON-ready result.

    ``{"model", "arch", "runtime", "classes", "label_map", "predictions": [{"id", "label",
    "confidence", "probs": {class: p}, "true"}], "skipped": [[id, reason]], "accuracy": float |
    None}`` (``true``/``accuracy`` where the input carries labels under the model's label map).
    ``runtime``: ``torch`` or ``onnx``; None: ``onnx`` for a ``.onnx`` MODEL, else ``torch``.
    """
    from mertool.training.data import BatchSet, Normalizer, load_table
    from mertool.training.export import is_onnx_file, open_model
    from mertool.training.loop import evaluate
    from mertool.training.prepare import prepared_samples

    onnx_file = is_onnx_file(model_path)
    runtime = runtime or ("onnx" if onnx_file else "torch")
    if runtime not in RUNTIMES:
        raise MertoolError(f"unknown runtime {runtime!r}", hint=f"one of: {', '.join(RUNTIMES)}")
    if onnx_file and runtime != "onnx":
        raise MertoolError(
            f"{model_path} is an ONNX file: it runs on onnxruntime only",
            hint="use --runtime onnx, or give the .pt model file for --runtime torch",
        )
    mf = open_model(model_path)
    pre = mf.preprocessing
    classes = mf.classes
    exported = None
    if runtime == "onnx" and not onnx_file:  # before the data: a model that cannot be exported stops at once
        from mertool.training.export import export_model

        exported = export_model(mf, device=device).runner
    with prepared_samples(
        source,
        pre["stage"],
        recorded_stages=pre.get("stages"),
        stage_params=pre.get("stage_params"),
        flow_record=pre.get("flow_record"),
        dataset=dataset,
    ) as sf:
        table = load_table(
            sf,
            pre["inputs"],
            tuple(pre["input_size"]) if pre.get("input_size") else None,
            label_map=mf.meta.get("label_map"),
            classes=classes,
            channels=pre.get("channels"),
            three_frames=bool(pre.get("three_frames")),
            require_labels=False,
        )
    normalizer = Normalizer.from_dict(pre["normalization"])
    model = exported if exported is not None else mf.build(device)
    ev = evaluate(model, BatchSet(table, np.arange(len(table)), normalizer), batch_size, device)
    preds = []
    for row, p in zip(ev["rows"], ev["probs"]):
        k = int(np.argmax(p))
        true = int(table.labels[row])
        preds.append(
            {
                "id": table.ids[row],
                "label": classes[k],
                "confidence": float(p[k]),
                "probs": {c: float(v) for c, v in zip(classes, p)},
                "true": classes[true] if true >= 0 else None,
            }
        )
    labelled = [x for x in preds if x["true"] is not None]
    return {
        "model": str(model_path),
        "arch": mf.arch,
        "runtime": runtime,
        "options": mf.meta.get("options", {}),
        "classes": classes,
        "label_map": mf.meta.get("label_map"),
        "predictions": preds,
        "skipped": [list(s) for s in table.skipped],
        "accuracy": (sum(x["label"] == x["true"] for x in labelled) / len(labelled)) if labelled else None,
        "n_labelled": len(labelled),
    }


class ClipPredictor:
    """One clip, live: two aligned face frames (onset, apex) in, label and probabilities out.

    Runs what the flow stage runs on a pair (``mertool.stages.flow.motion_maps`` with the flow
    settings recorded in the model file: TV-L1 ``micro`` by default, optical strain, difference
    image), builds the model's inputs as the data loader does, normalises them with the model
    file's statistics (those of ``dataset`` if the model has them, else all training samples),
    and runs the model. ``backend``: ``eager``, ``channels_last``, ``jit`` (traced and frozen
    TorchScript) or ``onnx`` (onnxruntime; outputs equal eager to ~1e-6).

    ``model``: a ``.pt`` model file, or a ``.onnx`` from ``mertool export`` (backend ``onnx``
    only: it holds no PyTorch weights). A ``.pt`` with backend ``onnx`` is exported in memory
    and checked by :func:`mertool.training.export.export_model`.

    Frames: (H, W[, 3]) uint8, the same size; what detect-faces' aligned crop gives.
    """

    BACKENDS = ("eager", "channels_last", "jit", "onnx")

    def __init__(
        self, model: str | Path, backend: str = "eager", threads: int = 0, dataset: str | None = None
    ):
        import torch

        from mertool.stages.flow import FlowOptions
        from mertool.training.data import FLOW_INPUTS, Normalizer
        from mertool.training.export import is_onnx_file, open_model
        from mertool.training.prepare import flow_options

        if backend not in self.BACKENDS:
            raise MertoolError(f"unknown backend {backend!r}", hint=f"one of: {', '.join(self.BACKENDS)}")
        if is_onnx_file(model) and backend != "onnx":
            raise MertoolError(
                f"{model} is an ONNX file: it runs with the onnx backend only",
                hint="use backend='onnx', or give the .pt model file",
            )
        mf = open_model(model)
        pre = mf.preprocessing
        self.names = tuple(pre["inputs"])
        if not set(self.names) <= set(FLOW_INPUTS):
            raise MertoolError(
                f"{model}: clip prediction needs a model on flow-stage inputs; this one eats {', '.join(self.names)}",
                hint="use 'mertool predict MODEL INPUT' on a sample file or dataset root",
            )
        self.classes = mf.classes
        self.size = tuple(pre["input_size"]) if pre.get("input_size") else None
        self.channels = pre.get("channels")
        self.options = flow_options(pre.get("flow_record")) or FlowOptions()
        norm = Normalizer.from_dict(pre["normalization"])
        self.norm = {}
        for name in self.names:
            if norm.mode == "none":
                continue
            mean, std = norm.tables(name, [dataset or "*"])
            self.norm[name] = (mean[0][:, None, None], std[0][:, None, None])
        if threads:
            torch.set_num_threads(threads)
        self.threads = torch.get_num_threads()
        self.backend = backend
        self.model_file = mf
        self.model = None if is_onnx_file(model) else mf.build("cpu")
        self._run = None

    # -- the steps (separately timed by benchmarks/bench_infer.py)
    def maps(self, onset: np.ndarray, apex: np.ndarray) -> dict[str, np.ndarray]:
        """The flow stage's arrays for one pair (flow, strain, diff, onset_image, apex_image)."""
        from mertool.stages.flow import motion_maps

        maps = motion_maps(onset, apex, self.options)
        if self.options.normalization == "minmax":
            from mertool.motion.normalize import minmax_maps

            maps.update(minmax_maps(maps)[0])
        return maps

    def inputs(self, maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Model inputs (1, C, H, W) float32, normalised."""
        from mertool.training.data import flow_stage_input

        out = {}
        for name in self.names:
            x = flow_stage_input(maps, name, self.size, self.channels)
            if name in self.norm:
                mean, std = self.norm[name]
                x = (x - mean) / std
            out[name] = np.ascontiguousarray(x[None], dtype=np.float32)
        return out

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self._run is None:
            self._run = self._compile(inputs)
        return self._run(inputs)

    def predict(self, onset: np.ndarray, apex: np.ndarray) -> tuple[str, dict[str, float]]:
        z = self.logits(self.inputs(self.maps(onset, apex)))[0].astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        return self.classes[int(p.argmax())], {c: float(v) for c, v in zip(self.classes, p)}

    # -- backends
    def _compile(self, example: dict[str, np.ndarray]):
        import torch

        names = self.names
        if self.backend == "onnx":
            from mertool.training.export import export_model

            if self.model is None:  # a .onnx file
                runner = self.model_file.runner(threads=self.threads)
            else:
                runner = export_model(self.model_file, model=self.model, threads=self.threads).runner
            return runner.run

        from mertool.training.export import logits_module

        wrapper = logits_module(self.model, names)
        if self.backend == "eager":

            def run(x):
                with torch.inference_mode():
                    return wrapper(*[torch.from_numpy(x[n]) for n in names]).numpy()

            return run
        if self.backend == "channels_last":
            wrapper = wrapper.to(memory_format=torch.channels_last)

            def run(x):
                with torch.inference_mode():
                    return wrapper(
                        *[torch.from_numpy(x[n]).contiguous(memory_format=torch.channels_last) for n in names]
                    ).numpy()

            return run
        import warnings

        tensors = [torch.from_numpy(example[n]) for n in names]
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation and tracer notes
            traced = torch.jit.freeze(torch.jit.trace(wrapper, tuple(tensors)))

        def run(x):
            with torch.inference_mode():
                return traced(*[torch.from_numpy(x[n]) for n in names]).numpy()

        return run
