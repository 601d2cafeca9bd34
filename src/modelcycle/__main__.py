"""``python -m modelcycle`` runs the CLI."""

from modelcycle.cli import main

main()
