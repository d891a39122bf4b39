"""What every ``spilot`` verb takes from the site configuration of the folder it runs in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pytest_spilot.errors import SpilotError
from pytest_spilot.redact import Redactor
from pytest_spilot.siteconfig import load_site_config


def site_redactor() -> Redactor:
    """This site's secrets (a release written elsewhere may hold them) and secret-looking
    variables of this environment: what a command prints, writes or serves is redacted."""
    try:
        return load_site_config(Path.cwd()).secrets(os.environ)
    except SpilotError as exc:
        print(f"spilot: {exc}; redacting secret-looking variables only", file=sys.stderr)
        return Redactor((), os.environ)
