"""``mertool export MODEL.pt --onnx``: a model file as ONNX that predicts on its own.

The ONNX graph takes the model's inputs by name (``flow``, ``apex``, ...: each float32, batch
axis dynamic, the rest fixed at the size the model was trained at) and returns ``logits`` (N, K).
Everything else a prediction needs (classes, label map, inputs and their shapes, input size,
channels, normalisation statistics, the stages and flow settings the inputs come from) is the
model file's metadata, stored as JSON under the ``mertool`` key of the ONNX ``metadata_props``;
:func:`load_onnx` reads it back, so ``mertool predict MODEL.onnx INPUT --runtime onnx`` and
:class:`~mertool.training.predict.ClipPredictor` need no ``.pt`` file.

Every export is checked: onnxruntime and the PyTorch model run on the same random batch (of a
size other than the traced one, so the batch axis is checked too) and the largest absolute
difference of the logits must stay within :data:`TOLERANCE` (1e-4; float32 kernels of the two
runtimes differ by about 1e-6 on the zoo's models). Models that compute in numpy (the
hand-crafted SVM baselines) cannot be traced and are refused with the reason.

One export path for all: ``mertool export``, ``predict --runtime onnx`` on a ``.pt`` (exported in
memory) and ClipPredictor's ``onnx`` backend all call :func:`onnx_bytes`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mertool import __version__
from mertool.errors import MertoolError
from mertool.training.checkpoint import ModelMeta

#: The largest absolute difference of the logits accepted between onnxruntime and PyTorch.
TOLERANCE = 1e-4
#: The ``metadata_props`` key holding the model file's metadata (JSON).
META_KEY = "mertool"
ONNX_FORMAT = "mertool-onnx"
ONNX_FORMAT_VERSION = 1
OUTPUT_NAME = "logits"
#: The batch size traced at export and the other one the check runs at.
TRACE_BATCH, CHECK_BATCH = 2, 3
_META_LEFT_OUT = ("state_dict",)


def is_onnx_file(path: str | Path) -> bool:
    """A path named ``*.onnx`` (what :func:`open_model` reads with :func:`load_onnx`)."""
    return Path(path).suffix.lower() == ".onnx"


# ------------------------------------------------------------------------------------------------
# the graph


def input_shapes(model, preprocessing: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of each model input, as the data loader builds it
    (:func:`mertool.training.data.build_input`) at the model file's input size.

    Channels come from the input kind (``flow``: 3), the normalisation statistics (one mean per
    channel), the recorded ``channels``, or else a probe: the model is run on 3 and on 1 channel
    and the one it accepts is kept.
    """
    from mertool.models.inputs import INPUTS, clip_input_frames
    from mertool.training.data import region_size

    names = list(preprocessing["inputs"])
    size = preprocessing.get("input_size")
    if not size:
        raise MertoolError(
            "the model file records no input size, so the ONNX graph's input shapes are unknown",
            hint="retrain it with --input-size N",
        )
    h, w = int(size[0]), int(size[1])
    stats = (preprocessing.get("normalization") or {}).get("stats") or {}
    three = bool(preprocessing.get("three_frames"))
    shapes: dict[str, tuple[int, ...]] = {}
    unknown: list[str] = []
    for name in names:
        t = clip_input_frames(name)
        if t is not None:
            shapes[name] = (t, h, w)
            continue
        kind = INPUTS.get(name)
        if kind is None:
            raise MertoolError(f"unknown model input {name!r} in the model file")
        per = stats.get(name) or {}
        first = next(iter(per.values()), None)
        channels = (
            kind.channels
            or (3 if kind.regions and three else None)
            or (len(first["mean"]) if first else None)
            or preprocessing.get("channels")
        )
        if kind.regions:
            rh, rw = region_size(name, (h, w))
            shapes[name] = (kind.regions, channels or 0, rh, rw)
        else:
            shapes[name] = (channels or 0, h, w)
        if not channels:
            unknown.append(name)
    if unknown:
        shapes = _probe_channels(model, shapes, unknown)
    return shapes


def _with_channels(shape: tuple[int, ...], regions: bool, c: int) -> tuple[int, ...]:
    return (shape[0], c, *shape[2:]) if regions else (c, *shape[1:])


def _probe_channels(model, shapes: dict, unknown: list[str]) -> dict[str, tuple[int, ...]]:
    import torch

    from mertool.models.inputs import INPUTS

    tried = []
    for c in (3, 1):
        trial = {
            n: (_with_channels(s, bool(INPUTS[n].regions), c) if n in unknown else s)
            for n, s in shapes.items()
        }
        try:
            with torch.inference_mode():
                model({n: torch.zeros(1, *s) for n, s in trial.items()})
            return trial
        except (RuntimeError, ValueError) as exc:
            tried.append(f"{c} channel(s): {str(exc).strip().splitlines()[0][:120]}")
    raise MertoolError(
        f"cannot tell how many channels the model's {', '.join(unknown)} input(s) have ({'; '.join(tried)})",
        hint="retrain it with --channels 1 or --channels 3",
    )


def example_batch(shapes: dict[str, tuple[int, ...]], batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 inputs (batch, *shape) for every input, standard normal (the scale of
    normalised inputs)."""
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal((batch, *s)).astype(np.float32) for n, s in shapes.items()}


def logits_module(model, names: tuple[str, ...] | list[str]):
    """``model`` (dict of inputs in, dict with ``logits`` out) as a module of positional inputs in
    ``names``' order returning the logits alone: what tracing and export need."""
    import torch

    names = tuple(names)

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *xs):
            return self.model(dict(zip(names, xs)))["logits"]

    return Logits().eval()


def onnx_bytes(model, names, shapes: dict[str, tuple[int, ...]], opset: int | None = None) -> bytes:
    """The ONNX graph of ``model`` (eval mode): inputs ``names`` with a dynamic batch axis,
    output ``logits``. Raises :class:`MertoolError` for a model that cannot be exported."""
    import io
    import warnings

    import torch

    names = list(names)
    wrapper = logits_module(model.eval(), names)
    example = example_batch(shapes, TRACE_BATCH)
    tensors = tuple(torch.from_numpy(example[n]) for n in names)
    buf = io.BytesIO()
    axes = {n: {0: "batch"} for n in [*names, OUTPUT_NAME]}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(
                wrapper,
                tensors,
                buf,
                input_names=names,
                output_names=[OUTPUT_NAME],
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
    except MertoolError as exc:  # a model that says why (the hand-crafted baselines)
        raise MertoolError(
            f"cannot export to ONNX: {exc.message}",
            hint="this model runs on PyTorch only: mertool predict MODEL.pt INPUT (--runtime torch)",
        ) from None
    except Exception as exc:  # noqa: BLE001 (the exporter raises many kinds; all mean the same here)
        first = str(exc).strip().splitlines()[0][:240] if str(exc).strip() else type(exc).__name__
        raise MertoolError(
            f"cannot export to ONNX: {type(exc).__name__}: {first}",
            hint="try another --opset, or use --runtime torch (the model itself is fine)",
        ) from None
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# running it


def onnx_session(model: bytes | str | Path, threads: int = 0, device: str = "cpu"):
    """An onnxruntime session on ``model`` (bytes or a path): ``threads`` intra-op threads (0:
    onnxruntime's default), one inter-op thread, no spinning threads after a run (they would
    take the cores from the next clip's optical flow). ``device`` cuda uses onnxruntime's CUDA
    provider where this onnxruntime has it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if str(device).startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise MertoolError(
                f"--runtime onnx on {device}: this onnxruntime has no CUDA provider "
                f"(it has {', '.join(ort.get_available_providers())})",
                hint="use --device cpu, or --runtime torch on the GPU",
            )
        providers.insert(0, "CUDAExecutionProvider")
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, opts, providers=providers)
    except Exception as exc:  # noqa: BLE001 (onnxruntime's pybind errors have no common base)
        where = "the exported model" if isinstance(model, bytes) else str(model)
        first = str(exc).strip().splitlines()[0][:240] if str(exc).strip() else type(exc).__name__
        raise MertoolError(
            f"onnxruntime cannot load {where}: {first}",
            hint="export it again with mertool export MODEL.pt --onnx",
        ) from None


class OnnxRunner:
    """An onnxruntime session behaving as the model does for
    :func:`mertool.training.loop.evaluate`: ``runner(inputs)`` with a dict of tensors (or arrays)
    gives ``{"logits": tensor}``. Inputs of another shape than the graph's are refused naming
    the input and both shapes."""

    def __init__(self, session, names):
        self.session = session
        self.names = tuple(names)
        self.shapes = {i.name: tuple(i.shape) for i in session.get_inputs()}
        missing = [n for n in self.names if n not in self.shapes]
        if missing:
            raise MertoolError(
                f"the ONNX graph has no input {', '.join(missing)} (its inputs: {', '.join(self.shapes)})",
                hint="export the model again with mertool export MODEL.pt --onnx",
            )

    def eval(self):
        return self

    def run(self, inputs: dict[str, Any]) -> np.ndarray:
        feeds = {}
        for n in self.names:
            x = inputs[n]
            x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
            want = self.shapes[n]
            if len(want) != x.ndim or any(
                isinstance(d, int) and d != g for d, g in zip(want[1:], x.shape[1:])
            ):
                shown = "(N, " + ", ".join(str(d) for d in want[1:]) + ")"
                raise MertoolError(
                    f"the ONNX model's input {n!r} is {shown}; this data gives {tuple(x.shape)}",
                    hint="predict on data made like the model's training data (same stages, channels)",
                )
            feeds[n] = np.ascontiguousarray(x, dtype=np.float32)
        return self.session.run([OUTPUT_NAME], feeds)[0]

    def __call__(self, inputs: dict[str, Any]) -> dict[str, Any]:
        import torch

        return {"logits": torch.from_numpy(self.run(inputs))}


def max_abs_difference(
    model, runner: OnnxRunner, shapes: dict[str, tuple[int, ...]], batch: int = CHECK_BATCH
) -> float:
    """Largest |logits(onnxruntime) - logits(PyTorch)| on one random batch of ``batch`` samples."""
    import torch

    x = example_batch(shapes, batch, seed=1)
    with torch.inference_mode():
        ref = model.eval()({n: torch.from_numpy(a) for n, a in x.items()})["logits"].float().numpy()
    got = runner.run(x)
    if got.shape != ref.shape:
        raise MertoolError(f"the ONNX model returns logits of shape {got.shape}, PyTorch {ref.shape}")
    return float(np.max(np.abs(got - ref))) if ref.size else 0.0


# ------------------------------------------------------------------------------------------------
# the .onnx file


@dataclass
class OnnxModelFile(ModelMeta):
    """A ``.onnx`` written by :func:`export_onnx`: the graph and the model file's metadata
    (``meta``: the same keys as :class:`~mertool.training.checkpoint.ModelFile`'s, plus ``onnx``)."""

    path: Path
    meta: dict[str, Any]
    model_bytes: bytes

    def runner(self, threads: int = 0, device: str = "cpu") -> OnnxRunner:
        return OnnxRunner(onnx_session(self.model_bytes, threads, device), self.preprocessing["inputs"])

    def build(self, device: str = "cpu") -> OnnxRunner:
        """What prediction runs (the counterpart of ``ModelFile.build``)."""
        return self.runner(device=device)


def _json_meta(meta: dict[str, Any]) -> str:
    def plain(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, (set, frozenset)):
            return sorted(o)
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"{type(o).__name__} is not JSON")

    return json.dumps(meta, default=plain, sort_keys=True)


def with_metadata(model_bytes: bytes, meta: dict[str, Any]) -> bytes:
    """``model_bytes`` with ``meta`` stored as JSON under :data:`META_KEY` in its metadata_props."""
    import onnx

    proto = onnx.load_from_string(model_bytes)
    for prop in [p for p in proto.metadata_props if p.key == META_KEY]:
        proto.metadata_props.remove(prop)
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, _json_meta(meta)
    proto.producer_name, proto.producer_version = "mertool", __version__
    proto.doc_string = (
        f"mertool {meta.get('arch')} model; classes {meta.get('classes')}; inputs "
        f"{meta['preprocessing']['inputs']}; metadata_props['{META_KEY}'] holds its preprocessing"
    )
    return proto.SerializeToString()


def load_onnx(path: str | Path) -> OnnxModelFile:
    """Read a ``.onnx`` written by ``mertool export``; refuse anything else clearly (no such file,
    not ONNX, ONNX without mertool's metadata, another format version)."""
    path = Path(path)
    if not path.is_file():
        raise MertoolError(
            f"{path}: no such model file", hint="write one with: mertool export MODEL.pt --onnx -o MODEL.onnx"
        )
    import onnx
    from google.protobuf.message import DecodeError

    hint = "give a .onnx written by 'mertool export MODEL.pt --onnx', or the .pt model file"
    import zipfile

    if zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise MertoolError(
            f"{path} is a PyTorch archive (a model file from mertool train?), not ONNX",
            hint="name it *.pt, or export it: mertool export MODEL.pt --onnx",
        )
    data = path.read_bytes()
    try:
        proto = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise MertoolError(f"{path} is not an ONNX model file ({first})", hint=hint) from None
    if not proto.graph.node and not proto.graph.input:
        raise MertoolError(f"{path} is not an ONNX model file (no graph in it)", hint=hint)
    props = {p.key: p.value for p in proto.metadata_props}
    if META_KEY not in props:
        raise MertoolError(
            f"{path} is an ONNX model (producer {proto.producer_name or '?'}) but not one written by "
            "mertool export: it carries no classes or preprocessing",
            hint=hint,
        )
    try:
        meta = json.loads(props[META_KEY])
    except json.JSONDecodeError as exc:
        raise MertoolError(f"{path}: its mertool metadata is not JSON ({exc})", hint=hint) from None
    info = meta.get("onnx") if isinstance(meta, dict) else None
    if not isinstance(info, dict) or info.get("format") != ONNX_FORMAT:
        raise MertoolError(f"{path}: its mertool metadata is not a {ONNX_FORMAT} record", hint=hint)
    if info.get("format_version") != ONNX_FORMAT_VERSION:
        raise MertoolError(
            f"{path} is {ONNX_FORMAT} version {info.get('format_version')} (mertool "
            f"{meta.get('mertool_version', '?')}); this mertool reads version {ONNX_FORMAT_VERSION}",
            hint="export it again with this version of mertool",
        )
    graph_inputs = [i.name for i in proto.graph.input]
    if [n for n in meta["preprocessing"]["inputs"] if n not in graph_inputs]:
        raise MertoolError(
            f"{path}: the graph's inputs {graph_inputs} are not the model's {meta['preprocessing']['inputs']}",
            hint=hint,
        )
    return OnnxModelFile(path, meta, data)


def open_model(path: str | Path):
    """A ``.onnx`` from ``mertool export`` (:class:`OnnxModelFile`) or a model file from ``mertool
    train`` (:class:`~mertool.training.checkpoint.ModelFile`), told apart by the name."""
    if is_onnx_file(path):
        return load_onnx(path)
    from mertool.training.checkpoint import load_model

    return load_model(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# export


@dataclass
class Exported:
    """An export in memory: the graph with its metadata, the check's outcome, and the
    onnxruntime session the check ran on (``runner``, ready to predict)."""

    model_bytes: bytes
    meta: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]
    max_abs_diff: float
    tolerance: float
    opset: int
    runner: OnnxRunner


def export_model(
    mf,
    model=None,
    opset: int | None = None,
    tolerance: float = TOLERANCE,
    threads: int = 0,
    device: str = "cpu",
) -> Exported:
    """Export a loaded :class:`~mertool.training.checkpoint.ModelFile` (``model``: its built
    model on the CPU, built here when None) and check it on an onnxruntime session of
    ``threads`` threads on ``device``; raises :class:`MertoolError` when it cannot be exported
    or onnxruntime's logits differ from PyTorch's by more than ``tolerance``."""
    import onnx

    if model is None:
        model = mf.build("cpu")
    pre = mf.preprocessing
    names = list(pre["inputs"])
    shapes = input_shapes(model, pre)
    graph = onnx_bytes(model, names, shapes, opset)
    used_opset = next(
        (o.version for o in onnx.load_from_string(graph).opset_import if o.domain in ("", "ai.onnx")), 0
    )
    runner = OnnxRunner(onnx_session(graph, threads, device), names)
    diff = max_abs_difference(model, runner, shapes)
    if not diff <= tolerance:  # also NaN
        raise MertoolError(
            f"the ONNX export of {mf.path} differs from PyTorch by up to {diff:.3g} in the logits "
            f"(tolerance {tolerance:g})",
            hint="try another --opset; --runtime torch predicts with the model itself",
        )
    meta = {k: v for k, v in mf.meta.items() if k not in _META_LEFT_OUT}
    meta["onnx"] = {
        "format": ONNX_FORMAT,
        "format_version": ONNX_FORMAT_VERSION,
        "mertool_version": __version__,
        "exported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "opset": used_opset,
        "inputs": names,
        "input_shapes": {n: list(s) for n, s in shapes.items()},
        "output": OUTPUT_NAME,
        "batch_axis": "dynamic",
        "source": {"path": str(Path(mf.path).resolve()), "sha256": _sha256(Path(mf.path))},
        "check": {"max_abs_diff": diff, "tolerance": tolerance, "batch": CHECK_BATCH},
    }
    return Exported(with_metadata(graph, meta), meta, shapes, diff, tolerance, used_opset, runner)


def export_onnx(
    model_path: str | Path,
    output: str | Path | None = None,
    opset: int | None = None,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """``mertool export MODEL.pt --onnx``: write ``output`` (default: MODEL with ``.onnx``)
    atomically and return a JSON-ready report (path, bytes, opset, inputs and shapes, the
    check's max abs difference and tolerance)."""
    from mertool.store.json_files import write_bytes_atomic
    from mertool.training.checkpoint import load_model

    model_path = Path(model_path)
    if is_onnx_file(model_path):
        raise MertoolError(f"{model_path} is already ONNX", hint="export the .pt model file it came from")
    mf = load_model(model_path)
    out = Path(output) if output is not None else model_path.with_suffix(".onnx")
    if out.resolve() == model_path.resolve():
        raise MertoolError(f"-o {out} would overwrite the model file", hint="name the output *.onnx")
    done = export_model(mf, opset=opset, tolerance=tolerance)
    write_bytes_atomic(out, done.model_bytes)
    return {
        "model": str(model_path),
        "output": str(out),
        "bytes": len(done.model_bytes),
        "arch": mf.arch,
        "classes": mf.classes,
        "opset": done.opset,
        "inputs": {n: ["batch", *s] for n, s in done.shapes.items()},
        "output_name": OUTPUT_NAME,
        "max_abs_diff": done.max_abs_diff,
        "tolerance": done.tolerance,
        "check_batch": CHECK_BATCH,
    }
