"""``mertool inspect FILE``: provenance, stage history and a per-sample summary of a sample file."""

from __future__ import annotations

import typer

from mertool.cli.common import JSON


def inspect(
    file: str = typer.Argument("-", metavar="[FILE]", help="HDF5 sample file, or '-' for stdin."),
    json_out: bool = JSON,
    limit: int = typer.Option(20, "--limit", "-n", help="Samples to list (0: all)."),
) -> None:
    """Show what made a sample file (command, parameters, inputs with SHA-256, earlier stages)
    and what it holds, sample by sample."""
    from rich.markup import escape
    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import out
    from mertool.store import open_input
    from mertool.store.describe import describe

    with open_input(file) as sf:
        info = describe(sf, max_samples=None if limit == 0 else limit)
    if json_out:
        print_json(info)
        return
    prov = info["provenance"]
    out.print(
        f"[bold]{escape(info['file'])}[/]  format {info['format']} v{info['format_version']}"
        + ("" if info["complete"] else "  [red](incomplete: an interrupted run)[/]")
    )
    out.print(f"stages: {' → '.join(info['stages'])}")
    for step in info["history"] + [prov]:
        out.print(
            f"  [cyan]{step.get('stage')}[/] {escape(str(step.get('created')))}  mertool {step.get('mertool_version')}"
        )
        out.print(f"    command: {escape(str(step.get('command')))}")
        if step.get("params"):
            params = ", ".join(f"{k}={v}" for k, v in step["params"].items())
            out.print(f"    params: {escape(params)}")
        for inp in step.get("inputs", []):
            out.print(f"    input: {escape(str(inp.get('path')))}  sha256 {str(inp.get('sha256'))[:16]}…")
    t = info["totals"]
    out.print(
        f"samples: {t['samples']} ({t['ok']} ok, {t['failed']} failed), subjects: {t['subjects']}, "
        f"labels: {t['labels']}"
    )
    table = Table(show_lines=False)
    for col in ("id", "status", "label", "onset", "apex", "offset", "arrays"):
        table.add_column(col)
    for s in info["samples"]:
        arrays = ", ".join(f"{k}{tuple(v['shape'])}" for k, v in s["arrays"].items())
        status = s["status"] if s["status"] == "ok" else f"[red]{s['status']}: {escape(str(s['error']))}[/]"
        apex = str(s["apex"]) + (f" (spotted {s['apex_spotted']})" if s["apex_spotted"] is not None else "")
        table.add_row(
            escape(s["id"]), status, str(s["label"]), str(s["onset"]), apex, str(s["offset"]), arrays
        )
    out.print(table)
    if limit and t["samples"] > limit:
        out.print(f"… {t['samples'] - limit} more (use --limit 0 to list all)")


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
