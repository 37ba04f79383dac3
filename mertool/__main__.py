"""``python -m mertool`` runs the command-line interface."""

from mertool.cli.app import main

if __name__ == "__main__":
    main()
