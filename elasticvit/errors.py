"""The project's error type for a user's mistake.

A config field, a file, a dataset, a device or a budget that is not what the platform expects
fails the same way on every try: the message names the field or file and what was expected, the
CLI prints it as one line and exits 2, and Prefect does not retry it. It is a ``ValueError`` so
that code catching bad values keeps working. Errors that can heal (a dropped connection, a busy
database) and bugs are anything else.
"""

from __future__ import annotations

from pydantic import ValidationError

from elasticvit.utils.redact import redact_value


class ElasticViTError(ValueError):
    """Bad input: the message names the field or file and what was expected."""


class DamagedFileError(ElasticViTError):
    """A file the platform reads is missing, truncated, corrupt or not the kind expected."""


def describe_invalid(exc: ValidationError, what: str) -> str:
    """Pydantic's errors as one line per field: ``invalid <what>:`` then ``field: reason (got x)``."""
    lines = [f"invalid {what}:"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"  {field}: unknown key")
        else:
            message = err["msg"].removeprefix("Value error, ")
            # a section's own check gets the whole section as input: not worth repeating
            got = "" if isinstance(err.get("input"), dict) else f" (got {redact_value(field, repr(err.get('input')))})"
            lines.append(f"  {field}: {message}{got}")
    return "\n".join(lines)
