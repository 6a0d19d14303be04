"""Run an example script as ``python examples/<name>.py`` runs it, but in this process.

A fresh interpreter per example would import stripe, pydantic and the SDK again (a third of a
second each time) to show nothing more: the script runs as ``__main__`` with its own argv, its
folder first on ``sys.path`` and the environment given, and its exit status is read from
``SystemExit`` as the interpreter reads it. What it changes in this process is undone by the
fixtures: ``monkeypatch`` (argv, path, environment) and ``structlog_left_unconfigured``
(tests/conftest.py) for an example that configures structlog.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class ExampleRun:
    """The exit status and the output of one run."""

    returncode: int
    stdout: str
    stderr: str


def run_example(
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: Mapping[str, str | None],
    args: Sequence[str] = (),
) -> ExampleRun:
    """Run ``path`` as ``__main__`` with command-line ``args``; ``env``: variables to set, or
    to unset (``None``)."""
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    monkeypatch.setattr(sys, "path", [str(path.parent), *sys.path])
    capsys.readouterr()
    try:
        runpy.run_path(str(path), run_name="__main__")
        code: object = None
    except SystemExit as exit_:
        code = exit_.code
    if code is None or isinstance(code, int):
        returncode = code or 0
    else:  # as the interpreter does: the message to stderr, status 1
        print(code, file=sys.stderr)
        returncode = 1
    out, err = capsys.readouterr()
    return ExampleRun(returncode, out, err)
