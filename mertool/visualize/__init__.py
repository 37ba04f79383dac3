"""Pictures of a sample as the stages see it, built from *panels* (``mertool show``).

A panel draws one row of the picture from one sample, on one matplotlib ``Axes``. Panels
register themselves with the :func:`panel` decorator, naming the arrays they need; ``mertool
show`` draws every registered panel whose arrays the sample has (in ``order``), or the ones
``--panels a,b`` names. Adding a picture of a new stage's output is one function::

    from mertool.visualize import panel

    @panel("flow", needs=("flow",), order=60, title="optical flow onset → apex")
    def flow_panel(record, ax):
        ax.imshow(flow_to_rgb(record.array("flow")))

* ``record`` is a :class:`mertool.store.SampleRecord` (``record.array(name)``,
  ``record.has(name)``, ``record.attrs``), open while the panel draws;
* ``ax`` is the panel's Axes (axis lines off); draw anything on it, with ``ax.set_title`` if
  the default ``title`` does not say enough;
* ``needs`` lists array names the sample must have; an entry that is a tuple means any one of
  them (``needs=(("frames", "crops/face"), "landmarks_aligned")``);
* ``order`` sorts the rows (faces 10-40, motion 50-90); ``aspect`` is the row's width / height.

Modules holding panels are listed in :data:`PANEL_MODULES` and imported on first use: ``sample``
(source frames with box and landmarks, aligned frames, region outlines, crops) and ``motion``
(flow, strain, difference image, apex curve), each optional so a checkout without one still
shows the rest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Modules under mertool.visualize that register panels on import.
PANEL_MODULES = ("sample", "motion")

Need = str | tuple[str, ...]


@dataclass(frozen=True)
class PanelSpec:
    name: str
    draw: Callable[[Any, Any], None]
    needs: tuple[Need, ...]
    order: int
    title: str
    aspect: float

    def missing(self, record: Any) -> list[str]:
        """The needs ``record`` does not meet (empty: the panel can draw it)."""
        out = []
        for need in self.needs:
            options = (need,) if isinstance(need, str) else tuple(need)
            if not any(record.has(name) for name in options):
                out.append(" or ".join(options))
        return out


_PANELS: dict[str, PanelSpec] = {}


def panel(
    name: str, needs: tuple[Need, ...] = (), order: int = 50, title: str | None = None, aspect: float = 3.0
) -> Callable[[Callable[[Any, Any], None]], Callable[[Any, Any], None]]:
    """Decorator registering ``draw(record, ax) -> None`` as the panel ``name``."""

    def deco(draw: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        _PANELS[name] = PanelSpec(name, draw, tuple(needs), order, title or name, aspect)
        return draw

    return deco


def registered() -> dict[str, PanelSpec]:
    """Every panel, after importing the panel modules that exist in this checkout."""
    for module in PANEL_MODULES:
        try:
            importlib.import_module(f"mertool.visualize.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"mertool.visualize.{module}":
                raise
    return dict(sorted(_PANELS.items(), key=lambda kv: (kv[1].order, kv[0])))


def applicable(record: Any) -> list[PanelSpec]:
    """Panels whose arrays ``record`` has, in order."""
    return [spec for spec in registered().values() if not spec.missing(record)]
