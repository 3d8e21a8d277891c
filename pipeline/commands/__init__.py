"""Subcommands of the ``ostinato`` CLI, one module each."""
