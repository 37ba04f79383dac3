"""Teach ultralytics' model parser the names ``C2f_Star``, ``C2f_Star_CBAM`` and ``C2f_Star_CAA``.

Why this is needed (ultralytics 8.4, read from ``ultralytics/nn/tasks.py``): ``parse_model`` turns
each YAML row ``[from, repeats, module, args]`` into a layer by

1. looking the module name up in ``ultralytics.nn.tasks``' module globals, and
2. giving the C2f family its argument handling — ``c1`` from the previous layer, ``c2`` scaled by
   the width multiple, the depth-scaled repeat count inserted as the third argument — only when
   the class is in two sets (``base_modules``, ``repeat_modules``) that ``parse_model`` builds
   *inside the function* on every call with ``frozenset({...})``.

A class that is only added to the globals therefore receives the YAML's raw arguments: its
``c1`` would be the YAML's output width and the repeat count would build ``n`` copies of a
whole C2f in a ``Sequential`` instead of ``n`` blocks inside one.

How we register: the names go into the module globals (1); for (2) we shadow the name
``frozenset`` in ``ultralytics.nn.tasks`` (module globals are searched before builtins) with a
function that returns the ordinary built-in frozenset, with our classes added whenever the set
being built contains ``C2f``. Only the two C2f sets of ``parse_model`` contain ``C2f``, so every
other ``frozenset(...)`` in that module is untouched; our classes get exactly C2f's treatment,
whoever calls ``parse_model``, without copying or rewriting any ultralytics source.

Registration ends with a probe: it parses a tiny model that uses each class with a repeat count
and checks channels and block counts. If a future ultralytics builds those sets differently,
the probe fails and :func:`register` raises :class:`~mertool.errors.EnvironmentProblem` naming
the installed version, instead of silently building a wrong network.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from functools import cache

from mertool.errors import EnvironmentProblem

TESTED_ULTRALYTICS = "8.4.190"


def _hint() -> str:
    return (
        f"mertool's detector was written against ultralytics {TESTED_ULTRALYTICS}; install that version "
        f"(python -m pip install ultralytics=={TESTED_ULTRALYTICS}, then repair OpenCV: make install)"
    )


def _make_frozenset_hook(c2f: type, extra: frozenset) -> type:
    """A stand-in for ``frozenset`` that adds ``extra`` to any set that contains ``c2f``."""
    real = builtins.frozenset

    class _C2fFamilyFrozenset(real):  # subclass: keeps isinstance(x, frozenset) meaningful in tasks.py
        def __new__(cls, iterable: Iterable = ()):
            items = real(iterable)
            if c2f in items:
                items = items | extra
            return items

    _C2fFamilyFrozenset.__qualname__ = _C2fFamilyFrozenset.__name__ = "frozenset"
    _C2fFamilyFrozenset.mertool_hook = True
    return _C2fFamilyFrozenset


def _probe(tasks) -> None:
    """Parse a tiny model using every registered class with 2 repeats; raise if mis-parsed."""
    from mertool.detector.modules import MODULES

    width = 0.5
    rows = [[-1, 1, "Conv", [32, 3, 2]]] + [[-1, 2, name, [64, True]] for name in MODULES]
    cfg = {"nc": 1, "depth_multiple": 1.0, "width_multiple": width, "backbone": rows, "head": []}
    try:
        seq, _ = tasks.parse_model(cfg, ch=3, verbose=False)
    except Exception as exc:  # noqa: BLE001 - any failure here means the parser changed
        raise EnvironmentProblem(
            f"ultralytics' parse_model could not build mertool's C2f_Star modules "
            f"({exc.__class__.__name__}: {exc})",
            hint=_hint(),
        ) from exc
    c_in, c_out = int(32 * width), int(64 * width)
    for layer, cls in zip(list(seq)[1:], MODULES.values()):
        ok = (
            type(layer) is cls
            and layer.cv1.conv.in_channels == c_in
            and layer.cv2.conv.out_channels == c_out
            and len(layer.m) == 2
        )
        c_in = c_out
        if not ok:
            raise EnvironmentProblem(
                f"the installed ultralytics gives {cls.__name__} different argument handling from C2f "
                f"(built {type(layer).__name__}); its parse_model no longer builds its C2f sets the way "
                f"mertool's registration expects",
                hint=_hint(),
            )


@cache
def register() -> None:
    """Make the YAML names ``C2f_Star``, ``C2f_Star_CBAM``, ``C2f_Star_CAA`` buildable by ultralytics.

    Idempotent and cheap after the first call. Call it before building a model from one of our
    YAMLs or loading weights trained with these modules. Raises
    :class:`~mertool.errors.EnvironmentProblem` when the installed ultralytics cannot be taught.
    """
    from mertool.detector import import_ultralytics

    import_ultralytics()
    try:
        import ultralytics.nn.tasks as tasks
    except Exception as exc:  # noqa: BLE001
        raise EnvironmentProblem(f"cannot import ultralytics.nn.tasks: {exc}", hint=_hint()) from exc
    if not (hasattr(tasks, "parse_model") and isinstance(getattr(tasks, "C2f", None), type)):
        raise EnvironmentProblem(
            "ultralytics.nn.tasks has no parse_model/C2f: the installed ultralytics is not one mertool knows",
            hint=_hint(),
        )
    from mertool.detector.modules import MODULES

    for name, cls in MODULES.items():
        setattr(tasks, name, cls)
    current = tasks.__dict__.get("frozenset")
    if not getattr(current, "mertool_hook", False):
        tasks.frozenset = _make_frozenset_hook(tasks.C2f, builtins.frozenset(MODULES.values()))
    _probe(tasks)


def is_registered() -> bool:
    """True once :func:`register` has succeeded in this process."""
    return register.cache_info().currsize > 0
