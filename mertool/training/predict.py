"""``mertool predict MODEL INPUT``: labels and probabilities from a model file alone.

INPUT is a sample file that already has the stage the model's inputs come from (``flow`` for
flow/apex/onset/diff inputs, ``crop-rois`` for crops), an earlier stage's file, or a dataset
root / frames folder / video: the missing stages run first with the settings the model file
recorded (:func:`mertool.training.prepare.prepared_samples`). Everything else (inputs, input size, channels, normalisation statistics,
classes) comes from the model file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def predict(
    model_path: str | Path,
    source: str | Path | None,
    device: str = "cpu",
    batch_size: int = 64,
    dataset: str | None = None,
) -> dict[str, Any]:
    """Predict every usable sample of ``source``; JSON-ready result.

    ``{"model", "arch", "classes", "label_map", "predictions": [{"id", "label", "confidence",
    "probs": {class: p}, "true"}], "skipped": [[id, reason]], "accuracy": float | None}``
    (``true``/``accuracy`` where the input carries labels under the model's label map).
    """
    from mertool.training.checkpoint import load_model
    from mertool.training.data import BatchSet, Normalizer, load_table
    from mertool.training.loop import evaluate
    from mertool.training.prepare import prepared_samples

    mf = load_model(model_path)
    pre = mf.preprocessing
    classes = mf.classes
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
    model = mf.build(device)
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

    Frames: (H, W[, 3]) uint8, the same size; what detect-faces' aligned crop gives.
    """

    BACKENDS = ("eager", "channels_last", "jit", "onnx")

    def __init__(
        self, model: str | Path, backend: str = "eager", threads: int = 0, dataset: str | None = None
    ):
        import torch

        from mertool.errors import MertoolError
        from mertool.stages.flow import FlowOptions
        from mertool.training.checkpoint import load_model
        from mertool.training.data import FLOW_INPUTS, Normalizer
        from mertool.training.prepare import flow_options

        if backend not in self.BACKENDS:
            raise MertoolError(f"unknown backend {backend!r}", hint=f"one of: {', '.join(self.BACKENDS)}")
        mf = load_model(model)
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
        self.model = mf.build("cpu")
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

        model, names = self.model, self.names

        class Positional(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, *xs):
                return self.model(dict(zip(names, xs)))["logits"]

        wrapper = Positional().eval()
        tensors = [torch.from_numpy(example[n]) for n in names]
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
        if self.backend == "jit":
            import warnings

            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TorchScript's deprecation and tracer notes
                traced = torch.jit.freeze(torch.jit.trace(wrapper, tuple(tensors)))

            def run(x):
                with torch.inference_mode():
                    return traced(*[torch.from_numpy(x[n]) for n in names]).numpy()

            return run
        import tempfile

        import onnxruntime as ort

        with tempfile.TemporaryDirectory(prefix="mertool-onnx-") as tmp:
            path = Path(tmp) / "model.onnx"
            import warnings

            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapper,
                    tuple(tensors),
                    str(path),
                    input_names=list(names),
                    output_names=["logits"],
                    dynamo=False,
                )
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            # no busy-waiting threads after a run: they would steal the cores from the next clip's flow
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

        def run(x):
            return session.run(["logits"], {n: x[n] for n in names})[0]

        return run
