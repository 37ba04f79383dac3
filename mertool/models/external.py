"""Your own model, by the same rules: models from a Python file or from another package.

Two ways in, both ending in an ordinary :class:`~mertool.models.registry.ModelSpec`, so ``train``,
``eval-loso`` (folds, selection rules, reports, ``--seeds``), ``predict`` and the tables treat the
model exactly like a built-in one:

``--arch path/to/file.py:ClassName`` (or ``package.module:ClassName``)
    any ``torch.nn.Module`` subclass (or a builder function ``f(num_classes, **options)``).
    The class says what it eats with two optional class attributes: ``input_names`` (default
    ``("flow",)``, names from :data:`mertool.models.registry.INPUT_NAMES`) and ``input_size``
    (default 28). It is built as ``ClassName(num_classes=K, **options)``; the constructor's
    keyword arguments with defaults become its options (``--opt key=value``).
    ``forward`` may take the registry's dict of inputs (declare ``takes_dict = True``) or, by
    default, the input tensors themselves in ``input_names`` order, and may return the logits
    tensor (B, K) or the registry's output dict.
entry points, group ``mertool.models``
    an installed package lists ``name = "pkg.module:ClassName"`` (or a builder function, or a
    module whose import calls :func:`~mertool.models.registry.register_model`) under
    ``[project.entry-points."mertool.models"]``; mertool finds them when it first looks a model
    up. A plugin that fails to load is reported and skipped, never fatal.

The file is imported once per process (worker processes import it again from the same path,
relative to the directory mertool was started in).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import torch

from mertool.errors import MertoolError

ENTRY_POINT_GROUP = "mertool.models"
DEFAULT_INPUTS = ("flow",)
DEFAULT_INPUT_SIZE = 28


def _is_reference(name: str) -> bool:
    return ":" in name and not name.startswith(":") and not name.endswith(":")


def load_object(reference: str) -> Any:
    """``file.py:Name`` or ``package.module:Name`` -> the object."""
    where, _, attr = reference.rpartition(":")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where).expanduser()
        if not path.is_file():
            raise MertoolError(
                f"--arch {reference}: no such Python file {path}",
                hint="give path/to/file.py:ClassName, relative to this folder or absolute",
            )
        key = "mertool_user_model_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        module = sys.modules.get(key)
        if module is None:
            spec = importlib.util.spec_from_file_location(key, path)
            if spec is None or spec.loader is None:
                raise MertoolError(f"--arch {reference}: cannot import {path} as Python")
            module = importlib.util.module_from_spec(spec)
            sys.modules[key] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[key]
                raise MertoolError(
                    f"--arch {reference}: importing {path} failed: {type(exc).__name__}: {exc}",
                    hint="run `python FILE` to see the full error",
                ) from exc
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise MertoolError(
                f"--arch {reference}: cannot import module {where!r} ({exc})",
                hint="install the package, or give a file path: path/to/file.py:ClassName",
            ) from exc
    if not hasattr(module, attr):
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        raise MertoolError(
            f"--arch {reference}: {where} has no {attr!r}", hint=f"it defines: {', '.join(names[:20])}"
        )
    return getattr(module, attr)


def _constructor_options(obj: Any) -> dict[str, Any]:
    from mertool.models.registry import Option

    target = obj.__init__ if inspect.isclass(obj) else obj
    opts = {}
    for p in list(inspect.signature(target).parameters.values()):
        if p.name in ("self", "num_classes") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is not inspect.Parameter.empty:
            opts[p.name] = Option(p.default, "constructor argument")
    if "pretrained" not in opts:
        opts["pretrained"] = Option(None, "a state-dict file to load")
    return opts


def spec_for(name: str, obj: Any, where: str):
    """A :class:`ModelSpec` for a user class or builder function ``obj`` registered as ``name``."""
    from mertool.models.registry import INPUT_NAMES, ModelSpec

    is_module_class = inspect.isclass(obj) and issubclass(obj, torch.nn.Module)
    if not is_module_class and not (callable(obj) and not inspect.isclass(obj)):
        raise MertoolError(
            f"{where}: {obj!r} is neither a torch.nn.Module subclass nor a builder function",
            hint="point --arch at a class deriving from torch.nn.Module",
        )
    inputs = tuple(getattr(obj, "input_names", DEFAULT_INPUTS))
    bad = [i for i in inputs if i not in INPUT_NAMES]
    if bad:
        raise MertoolError(
            f"{where}: input_names {bad} are not model inputs mertool makes",
            hint=f"choose from: {', '.join(INPUT_NAMES)}",
        )
    size = int(getattr(obj, "input_size", DEFAULT_INPUT_SIZE))
    takes_dict = bool(getattr(obj, "takes_dict", False))

    def build(num_classes: int, pretrained: str | None = None, **options: Any):
        from mertool.models.pretrained import apply_pretrained

        net = obj(num_classes=num_classes, **options)
        model = net if takes_dict else PlainModel(net, inputs)
        apply_pretrained(model, pretrained)
        return model

    build.__module__ = __name__  # worker processes rebuild it from the name, not by importing a module
    doc = (inspect.getdoc(obj) or "").strip().splitlines()
    return ModelSpec(
        name,
        build,
        inputs,
        size,
        "external",
        doc[0] if doc else f"user model {where}",
        _constructor_options(obj),
    )


def external_spec(name: str):
    """The spec of ``--arch file.py:Class`` / ``module:Class``; None if ``name`` is no reference."""
    if not _is_reference(name):
        return None
    return spec_for(name, load_object(name), name)


def load_entry_points() -> list[str]:
    """Register every model of the ``mertool.models`` entry-point group; returns their names."""
    from importlib.metadata import entry_points

    from mertool.models.registry import _MODELS

    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if inspect.ismodule(obj) or ep.name in _MODELS:
                loaded.append(ep.name)  # a module that registered its models on import
                continue
            _MODELS[ep.name] = spec_for(ep.name, obj, f"entry point {ep.name} = {ep.value}")
            loaded.append(ep.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, mertool goes on
            from mertool.console import warn

            warn(f"model plugin {ep.name} ({ep.value}) could not be loaded: {type(exc).__name__}: {exc}")
    return loaded


class PlainModel(torch.nn.Module):
    """Adapts a module whose forward takes input tensors and returns logits to the registry
    contract (dict of inputs in, dict with ``logits`` out)."""

    def __init__(self, net: torch.nn.Module, inputs: tuple[str, ...]):
        super().__init__()
        self.net = net
        self.input_names = inputs

    def forward(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> dict:
        out = self.net(*[inputs[n] for n in self.input_names])
        return out if isinstance(out, dict) else {"logits": out}
