"""``mertool doctor``: report the environment and the exact repair for each problem."""

from __future__ import annotations

import typer


def doctor(
    json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    quiet: bool = typer.Option(
        False, "--quiet", help="Print only problems; exit 1 if a required piece is broken."
    ),
) -> None:
    """Check torch, torchvision, OpenCV (with TV-L1), dlib and its model files, ultralytics,
    h5py, CPU threads, GPUs and Ray (its version; with RAY_ADDRESS set, whether a cluster answers
    there, without starting one); print the exact command that repairs each problem."""
    from dataclasses import asdict

    from rich.table import Table

    from mertool.cli.common import print_json
    from mertool.console import err, out
    from mertool.env import run_checks

    checks = run_checks()
    from mertool.env import Check
    from mertool.folds.ray_executor import ray_checks

    checks += [Check(name, ok, found, repair, optional=True) for name, ok, found, repair in ray_checks()]
    broken = [c for c in checks if not c.ok and not c.optional]
    if json_out:
        print_json({"ok": not broken, "checks": [asdict(c) for c in checks]})
    elif not quiet:
        table = Table(title="mertool doctor", show_lines=False)
        table.add_column("check")
        table.add_column("status")
        table.add_column("found")
        for c in checks:
            status = "[green]ok[/]" if c.ok else ("[yellow]optional[/]" if c.optional else "[red]PROBLEM[/]")
            table.add_row(c.name, status, c.found)
        out.print(table)
    for c in checks:
        if not c.ok:
            err.print(f"[red]✗ {c.name}[/]: {c.found}\n  repair: [bold]{c.repair}[/]")
    if broken:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
