"""The command line: typer commands that parse options, call the packages below and print.

Nothing below ``mertool.cli`` imports it (an import-linter contract, ``make lint``)."""
