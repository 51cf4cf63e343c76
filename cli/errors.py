"""One error path for the user's mistakes: a red line naming the field or file, exit code 2.

Every command runs inside ``ReportingGroup``: an ``ElasticViTError`` (config, data, device, table,
budget, checkpoint), a ``ValueError`` raised on a bad value, or a missing or unreadable file is
printed as one line with a hint, and the command exits 2. ``--debug`` (or ``ELASTICVIT_DEBUG=1``)
lets the traceback through. Anything else is a bug or an outage and keeps its traceback.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click
import typer
from typer.core import TyperGroup

DEBUG_KEY = "elasticvit.debug"
HINT = "(run with `elasticvit --debug ...` for the traceback)"
# ValueError covers the project's ElasticViTError and pydantic's ValidationError; the OSErrors are
# a path the user gave that is missing, a directory, or not readable
USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def one_line(exc: BaseException) -> str:
    """The error's message on one line: a multi-line message (pydantic's) joined with '; '
    (a line ending in a colon runs on into the next)."""
    text = ""
    for line in (line.strip() for line in str(exc).splitlines()):
        if line:
            text += ("" if not text else " " if text.endswith(":") else "; ") + line
    return text or type(exc).__name__


def fail(message: str) -> NoReturn:
    """Stop a command on a mistake the CLI itself found (a missing stage, no worker)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


class ReportingGroup(TyperGroup):
    """The root command group: turns a user error raised anywhere below into one line and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            if ctx.meta.get(DEBUG_KEY):
                raise
            typer.secho(f"error: {one_line(exc)}", fg=typer.colors.RED, err=True)
            typer.secho(HINT, err=True)
            raise typer.Exit(code=2) from exc
