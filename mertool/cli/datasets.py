"""``mertool datasets list|info``: the supported datasets, and what a root holds."""

from __future__ import annotations

from pathlib import Path

import typer

from mertool.cli.common import DATASET, JSON

datasets_app = typer.Typer(help="Supported datasets and what a dataset root holds.", no_args_is_help=True)


@datasets_app.command("list")
def list_datasets(json_out: bool = JSON) -> None:
    """Name every supported dataset reader with what it reads and its label maps.

    A name (or an alias) is what --dataset takes; readers marked "by --dataset only" are variants that auto-detection never picks.

    Example: mertool datasets list --json
    """
    from rich.markup import escape
    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import out
    from mertool.datasets.base import readers

    specs = readers()
    if json_out:
        print_json(
            {
                n: {
                    "title": s.title,
                    "description": s.description,
                    "label_maps": list(s.label_maps),
                    "default_label_map": s.default_label_map,
                    "aliases": list(s.aliases),
                }
                for n, s in sorted(specs.items())
            }
        )
        return
    table = Table(title="supported datasets")
    table.add_column("name")
    table.add_column("what it reads")
    table.add_column("label maps (default first)")
    for name, spec in sorted(specs.items()):
        maps = [spec.default_label_map] + [m for m in spec.label_maps if m != spec.default_label_map]
        label = name + (f"\n[dim](also {', '.join(spec.aliases)})[/]" if spec.aliases else "")
        table.add_row(label, escape(spec.description), ", ".join(maps))
    out.print(table)


@datasets_app.command("info")
def info(
    root: Path = typer.Argument(
        ..., metavar="ROOT", help="The dataset's root folder, as unpacked, or the folder holding it."
    ),
    dataset: str = DATASET,
    json_out: bool = JSON,
) -> None:
    """Samples, subjects, class counts under each label map, and every quirk met (file and row).

    Reads ROOT exactly as distributed (the dataset is auto-detected; --dataset names it) and prints a summary; with --json, one JSON object on stdout (keys dataset, root, samples, subjects, subject_ids, classes, classes_by_label_map, annotation_files, warnings). ROOT may also be the folder the dataset was unzipped into (one or two levels above it): the one dataset below is read and named on stderr; several are listed with their folders and --dataset names. Exits non-zero with a message naming the path when ROOT is missing, empty, holds no known dataset or several, or its annotation file is unreadable.

    Example: mertool datasets info ~/data/CASME2 --json
    """
    from rich.markup import escape
    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import out
    from mertool.datasets import open_dataset

    result = open_dataset(root, dataset)
    summary = result.info()
    if json_out:
        print_json(summary)
        return
    out.print(
        f"[bold]{summary['dataset']}[/] at {escape(summary['root'])}: {summary['samples']} samples, "
        f"{summary['subjects']} subjects"
    )
    for f in summary["annotation_files"]:
        out.print(f"  annotation: {escape(f)}")
    table = Table(title="classes")
    table.add_column("label map")
    table.add_column("counts")
    for lm, counts in summary["classes_by_label_map"].items():
        mark = " (default)" if lm == summary["label_map"] else ""
        table.add_row(lm + mark, ", ".join(f"{k} {v}" for k, v in counts.items()) or "—")
    out.print(table)
    if summary["warnings"]:
        out.print(f"[yellow]{len(summary['warnings'])} warning(s):[/]")
        for w in summary["warnings"]:
            out.print(f"  [yellow]•[/] {escape(w)}")


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
