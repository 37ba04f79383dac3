"""The ``mertool`` command: a thin typer app; each stage's command lives in its own module.

Commands are registered by importing the modules in :data:`COMMAND_MODULES`; each module exposes
``register(app)``. No logic lives here beyond turning :class:`~mertool.errors.MertoolError` into
a clear message and an exit code.
"""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperGroup

from mertool import __version__
from mertool.cli.common import help_text

HELP = """\
Facial micro-expression recognition, from datasets as shipped to honest LOSO numbers.

Stages read and write HDF5 sample files and chain in a shell pipe:

  mertool detect-faces casme2/ | mertool spot-apex | mertool crop-rois \\
    | mertool flow -o flow.h5
  mertool eval-loso flow.h5 --arch dfr-net -o results/

A stage whose input is omitted or '-' reads HDF5 from stdin; one whose output is '-' (or omitted
while piped) writes to stdout. Any stage also takes a dataset root and runs the stages before
it with their defaults. 'mertool doctor' checks the installation.
"""

#: Modules under mertool.cli that define commands (each has ``register(app)``), in help order.
COMMAND_MODULES = (
    "doctor",
    "datasets",
    "inspect",
    "synth",
    "detect_faces",
    "spot_apex",
    "crop_rois",
    "flow",
    "show",
    "detector",
    "train",
    "eval_loso",
    "models",
    "predict",
    "export",
    "spot",
    "analyze",
    "compare",
    "rescore",
    "tables",
)


class MertoolGroup(TyperGroup):
    """Turns mertool errors and Ctrl-C into a message and an exit code, for every subcommand."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        from mertool.errors import MertoolError

        try:
            return super().invoke(ctx)
        except MertoolError as exc:
            _report(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            from mertool.console import err

            err.print(
                "[red]interrupted[/]; finished work is kept (re-run with --resume where the command has it)"
            )
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=MertoolGroup,
    name="mertool",
    help=help_text(HELP),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mertool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or info messages."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    from mertool.console import set_quiet

    set_quiet(quiet)


for _name in COMMAND_MODULES:
    importlib.import_module(f"mertool.cli.{_name}").register(app)


def _reflow(typer_app: typer.Typer) -> None:
    """Help from docstrings is wrapped in the source; let the terminal wrap it instead."""
    for info in typer_app.registered_commands:
        text = info.help if isinstance(info.help, str) else (info.callback.__doc__ if info.callback else None)
        if text:
            info.help = help_text(text)
    for group in typer_app.registered_groups:
        if isinstance(group.help, str):
            group.help = help_text(group.help)
        if group.typer_instance is not None:
            _reflow(group.typer_instance)


_reflow(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="mertool")


def _report(exc: Exception) -> None:
    from rich.markup import escape

    from mertool.console import err

    message = getattr(exc, "message", str(exc))
    err.print(f"[bold red]error:[/] {escape(message)}")
    hint = getattr(exc, "hint", None)
    if hint:
        err.print(f"[bold]what to do:[/] {escape(hint)}")
