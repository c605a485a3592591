"""Cloud commands (bootstrap, submit, status, results, dlq)."""

from __future__ import annotations

import argparse


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Registered by the queue pipeline."""
