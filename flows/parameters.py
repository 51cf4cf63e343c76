"""Types of the flows' string parameters, whose JSON schema refuses a credential.

A deployment's run started from outside (the UI, ``prefect deployment run --param``,
``run_deployment``) is stored by Prefect's server as sent, before any code of ours runs. Every
deployment enforces its parameter schema (flows/deploy.py): the server validates the run's
parameters against it first and refuses the run (HTTP 409) without storing it.

The constraint lives only in the schema, as ``not`` a matching string: the server's validator
(jsonschema) applies ``pattern`` with Python's ``re``, so the regexes of elasticvit.utils.redact
serve as they are; pydantic ignores ``json_schema_extra``, and a call from Python meets the config
check instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from elasticvit.utils.redact import SECRET_KEY, URL_USERINFO


def _matching(regex: re.Pattern[str], prefix: str = "") -> dict[str, Any]:
    """The schema of a string in which ``regex`` (its flag inline) finds a match after ``prefix``."""
    source = f"(?i:{regex.pattern})" if regex.flags & re.IGNORECASE else regex.pattern
    # "type" too: ``pattern`` passes anything but a string, so a bare ``not`` would refuse a None
    return {"type": "string", "pattern": prefix + source}


_USERINFO = _matching(URL_USERINFO)
_SECRET_KEYED = _matching(SECRET_KEY, prefix="^[^=]*")  # the secret's name in the key, before "="

Text = Annotated[str, Field(json_schema_extra={"not": _USERINFO})]
"""A config name or path, a device or model name, a run id: refused when it holds URL user-info."""
OptionalPath = Annotated[Path | None, Field(json_schema_extra={"not": _USERINFO})]
Override = Annotated[str, Field(json_schema_extra={"not": {"anyOf": [_USERINFO, _SECRET_KEYED]}})]
"""A ``section.key=value`` override: refused as a ``Text`` is, or when its key names a secret."""
