"""``mertool models list|show|table``: the model zoo, one model's layers, and the paper cost table."""

from __future__ import annotations

from typing import Any

import typer

from mertool.cli.common import JSON
from mertool.training.options import parse_opts

models_app = typer.Typer(
    help="The model zoo: every architecture of the papers, its options, size and cost.", no_args_is_help=True
)

OPT = typer.Option(
    None,
    "--opt",
    metavar="KEY=VALUE",
    help="Model option, repeatable (e.g. --opt stages=2 --opt fusion=add); values are read as "
    "int, float, true/false, none or text, then checked against the option's choices.",
)
SIZE = typer.Option(None, "--size", min=4, help="Input side in pixels (default: the model's own input size).")


def _option_text(spec) -> str:
    parts = []
    for key, o in spec.options.items():
        choices = f" [{'|'.join(map(str, o.choices))}]" if o.choices else ""
        parts.append(f"{key}={o.default}{choices}")
    return ", ".join(parts) or "—"


@models_app.command("list")
def list_models(
    json_out: bool = JSON,
    cost: bool = typer.Option(
        True, "--cost/--no-cost", help="Count parameters and FLOPs at each model's default input."
    ),
) -> None:
    """Every registered model with its paper, inputs, options, parameters and FLOPs.

    Counts are for each model's default options and input size, 3 classes; FLOPs are multiply-accumulates, as papers report them (counted on PyTorch's meta device: seconds for the whole zoo).

    Example: mertool models list --json
    """
    from mertool.models.registry import model_names, model_spec

    rows = []
    for name in model_names():
        spec = model_spec(name)
        row: dict[str, Any] = {
            "name": name,
            "paper": spec.paper,
            "description": spec.description,
            "inputs": list(spec.input_names({})),
            "input_size": spec.input_size,
            "options": {
                k: {"default": o.default, "help": o.help, "choices": list(o.choices) if o.choices else None}
                for k, o in spec.options.items()
            },
        }
        if cost:
            from mertool.models.complexity import profile

            p = profile(name)
            row["params"] = p["params"]
            row["gflops"] = round(p["macs"] / 1e9, 3)
        rows.append(row)
    if json_out:
        from mertool.cli.common import print_json

        print_json(rows)
        return
    from rich.markup import escape
    from rich.table import Table

    from mertool.console import out

    table = Table(title="models (mertool models show NAME for layers; --opt KEY=VALUE to set options)")
    for col in ("name", "paper", "inputs", "size", "params", "GFLOPs", "options (default [choices])"):
        table.add_column(col, overflow="fold")
    for r in rows:
        spec = model_spec(r["name"])
        table.add_row(
            r["name"],
            r["paper"],
            ", ".join(r["inputs"]),
            str(r["input_size"]),
            f"{r['params'] / 1e6:.3f}M" if cost else "—",
            f"{r['gflops']:.3f}" if cost else "—",
            escape(_option_text(spec)),
        )
    out.print(table)


@models_app.command("show")
def show(
    name: str = typer.Argument(..., help="Model name (mertool models list)."),
    opt: list[str] | None = OPT,
    size: int | None = SIZE,
    depth: int = typer.Option(2, "--depth", min=1, help="How many levels of submodules to list."),
    num_classes: int = typer.Option(3, "--classes", min=1, help="Number of classes of the classifier."),
    json_out: bool = JSON,
) -> None:
    """The layer summary of one model: each module's type, output shape and parameters.

    Example: mertool models show dfr-net --opt stages=2 --opt attention=ca --size 112
    """
    from mertool.models.registry import model_spec
    from mertool.models.summary import layer_summary

    spec = model_spec(name)
    summary = layer_summary(name, parse_opts(opt, spec), size, depth, num_classes)
    if json_out:
        from mertool.cli.common import print_json

        print_json(summary)
        return
    from rich.markup import escape
    from rich.table import Table

    from mertool.console import out

    opts = ", ".join(f"{k}={v}" for k, v in summary["options"].items()) or "—"
    inputs = ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in summary["inputs"].items())
    table = Table(title=escape(f"{name} ({opts})\ninputs: {inputs}"))
    for col in ("module", "type", "output", "params"):
        table.add_column(col, justify="right" if col == "params" else "left")
    for row in summary["layers"]:
        table.add_row(
            "  " * row["name"].count(".") + row["name"], row["type"], row["output"], f"{row['params']:,}"
        )
    out.print(table)
    out.print(
        f"total: {summary['params']:,} parameters, {summary['macs'] / 1e9:.3f} GFLOPs (multiply-accumulates)"
    )


@models_app.command("table")
def table(
    json_out: bool = JSON,
    markdown: bool = typer.Option(
        False, "--markdown", help="Print a markdown table (what make models-table writes)."
    ),
    csv_out: bool = typer.Option(False, "--csv", help="Print CSV."),
) -> None:
    """Published parameter counts and FLOPs beside ours, at each paper's input size.

    Rows: paper 002 Table 7, paper 004 Tables 5, 7 and 9, Hu et al.'s SE-ResNet-50 and SE-ResNeXt-50. No dataset needed; rows more than 15 % off are named on stderr.

    Example: mertool models table --markdown > results/models-table.md
    """
    from mertool.console import warn
    from mertool.models.paper_table import COLUMNS, compute, outside_tolerance, to_csv, to_markdown

    results = compute()
    if json_out:
        from mertool.cli.common import print_json

        print_json(results)
    elif markdown:
        typer.echo(to_markdown(results), nl=False)
    elif csv_out:
        typer.echo(to_csv(results), nl=False)
    else:
        from rich.table import Table

        from mertool.console import out
        from mertool.models.paper_table import _cell

        t = Table(title="parameters and FLOPs (multiply-accumulates): papers vs ours")
        for _, header in COLUMNS:
            t.add_column(header)
        for r in results:
            t.add_row(*[_cell(k, r[k]) for k, _ in COLUMNS])
        out.print(t)
    for row in outside_tolerance(results):
        warn(f"more than 15% from the paper: {row}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
