"""Stage chaining: give any stage a dataset root and it runs the stages it needs first.

Each stage module (``mertool/stages/<stage>.py``) registers a runner with :func:`register_stage`::

    register_stage("spot-apex", run_spot_apex, requires=("detect-faces",))

where ``run_spot_apex(source, output, **options)`` reads ``source`` (a sample-file path, or for
``detect-faces`` a dataset root / frames folder / video) and writes ``output`` (a path). Stage
commands then call :func:`prepared_input`, which yields an open
:class:`~mertool.store.SampleFile` that has every required stage done, running the missing ones
with their defaults into temporary files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mertool.errors import MertoolError
from mertool.store import SampleFile, open_input
from mertool.store import schema as S
from mertool.store.pipes import is_stdio


@dataclass(frozen=True)
class StageSpec:
    name: str
    run: Callable[..., Any]
    requires: tuple[str, ...]
    #: options when the stage runs implicitly, because a later stage needs its output
    chain_options: dict[str, Any] = field(default_factory=dict)


_STAGES: dict[str, StageSpec] = {}


def register_stage(
    name: str,
    run: Callable[..., Any],
    requires: tuple[str, ...] = (),
    chain_options: dict[str, Any] | None = None,
) -> None:
    _STAGES[name] = StageSpec(name, run, tuple(requires), dict(chain_options or {}))


def _load_stages() -> None:
    import mertool.stages  # noqa: F401  (each stage module registers its runner on import)


def stage(name: str) -> StageSpec:
    _load_stages()
    if name not in _STAGES:
        raise MertoolError(f"stage {name!r} is not available in this installation")
    return _STAGES[name]


def requirements(name: str) -> tuple[str, ...]:
    """The stages ``name`` needs before it (what its command passes to :func:`prepared_input`)."""
    return stage(name).requires


def is_raw_input(arg: str | Path | None) -> bool:
    """True for a dataset root, a folder of frames or a video file (anything not a sample file)."""
    if is_stdio(arg):
        return False
    path = Path(arg)  # type: ignore[arg-type]
    if path.is_dir():
        return True
    return path.is_file() and path.suffix.lower() in {
        ".mp4",
        ".avi",
        ".mov",
        ".mkv",
        ".webm",
        ".mpg",
        ".mpeg",
    }


def _missing(done: list[str], requires: tuple[str, ...]) -> list[str]:
    """Required stages not yet done, in pipeline order (with their own requirements)."""
    needed: list[str] = []

    def add(name: str) -> None:
        if name in done or name in needed:
            return
        for dep in stage(name).requires:
            add(dep)
        needed.append(name)

    for r in requires:
        add(r)
    return [n for n in S.PIPELINE if n in needed]


@contextmanager
def prepared_input(
    arg: str | Path | None,
    requires: tuple[str, ...],
    raw_options: dict[str, Any] | None = None,
    command: str | None = None,
) -> Iterator[SampleFile]:
    """Open ``arg`` as a sample file with every stage in ``requires`` done.

    ``raw_options`` go to ``detect-faces`` when ``arg`` is a dataset root (e.g. ``dataset``);
    ``command`` is recorded in the provenance of the stages run here (the command that needed them).
    """
    chain = _missing([], requires)
    with chained(arg, chain, {chain[0]: raw_options or {}} if chain else None, command=command) as sf:
        yield sf


@contextmanager
def chained(
    arg: str | Path | None,
    chain: Sequence[str],
    options: Mapping[str, Mapping[str, Any]] | None = None,
    ready: Callable[[SampleFile], bool] | None = None,
    settings_name: str = "the given settings",
    command: str | None = None,
) -> Iterator[SampleFile]:
    """Open ``arg`` with the stages of ``chain`` (in order) done, running the missing ones into
    temporary files: each with its ``chain_options`` (:func:`register_stage`) updated by
    ``options[stage]``. ``ready(file)`` may say a file needs nothing more (its outputs are there
    although its history does not list the stage); ``settings_name`` says where ``options`` came
    from in the progress message; ``command`` is recorded in the provenance of the stages run here."""
    from mertool.console import info

    given = dict(options or {})
    with ExitStack() as stack:
        tmpdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mertool-chain-")))
        if is_raw_input(arg):
            done: list[str] = []
            current = Path(arg)  # type: ignore[arg-type]
        else:
            sf = stack.enter_context(open_input(arg))
            done = sf.stages_done
            if all(name in done for name in chain) or (ready is not None and ready(sf)):
                yield sf
                return
            current = sf.path
        ran: list[str] = []
        for name in chain:
            if name in done:
                continue
            extra = dict(given.get(name) or {})
            info(f"[dim]running {name} first with {settings_name if extra else 'its defaults'}[/]")
            out = tmpdir / f"{name}.h5"
            stage(name).run(current, out, **{**stage(name).chain_options, **extra}, command=command)
            current = out
            ran.append(name)
        # messages name what the user gave, not the temporary file that is gone afterwards
        shown = f"{'<stdin>' if is_stdio(arg) else arg} after {' and '.join(ran)}" if ran else None
        yield stack.enter_context(SampleFile(current, display_name=shown))
