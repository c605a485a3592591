"""Cloud commands (bootstrap, submit, status, results, dlq)."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registered by the queue pipeline."""
