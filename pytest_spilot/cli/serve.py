"""``spilot serve [DIR]``: the live page of every release under DIR, runs in progress included."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pytest_spilot.cli.site import site_redactor
from pytest_spilot.core.settings import SPILOT_DIR
from pytest_spilot.errors import SpilotError

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir",
        nargs="?",
        type=Path,
        default=Path(SPILOT_DIR),
        metavar="DIR",
        help=f"folder of the releases (default {SPILOT_DIR}/)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any non-loopback address needs a token)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0: any free one"
    )
    parser.add_argument(
        "--token",
        help="the token a browser must present (default: $SPILOT_SERVE_TOKEN, else generated "
        "off loopback); other users of this host see a command line: prefer --token-file",
    )
    parser.add_argument(
        "--token-file", type=Path, metavar="PATH", help="read the token from PATH (first line)"
    )
    parser.add_argument(
        "--runs",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="also show logs under PATH (a --spilot-runs folder outside DIR); repeatable",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; 0 when stopped so."""
    try:
        from pytest_spilot.live.server import LiveServer
    except ImportError as exc:
        raise SpilotError(
            f"spilot serve needs the web server's packages ({exc.name} is missing): "
            "pip install 'pytest-spilot[live]'"
        ) from None
    folder: Path = args.dir
    if not folder.is_dir():
        print(f"spilot serve: {folder} holds no release yet; its releases show as they appear")
    server = LiveServer(
        folder, args.host, args.port, _token(args), roots=args.runs, redactor=site_redactor()
    )

    def listening(server: LiveServer) -> None:
        print(f"spilot serve: the releases of {folder} at {server.url}", flush=True)
        print("spilot serve: Ctrl-C stops", flush=True)

    try:
        server.serve_forever(ready=listening)
    except KeyboardInterrupt:
        print("spilot serve: stopped")
    return 0


def _token(args: argparse.Namespace) -> str | None:
    """--token, else --token-file's first line, else $SPILOT_SERVE_TOKEN; None: the default."""
    if args.token:
        return str(args.token)
    token_file: Path | None = args.token_file
    if token_file is not None:
        try:
            lines = token_file.read_text().splitlines()
        except OSError as exc:
            raise SpilotError(
                f"spilot serve --token-file {token_file}: cannot read it ({exc.strerror}); "
                "give a readable file whose first line is the token"
            ) from None
        if not lines or not lines[0].strip():
            raise SpilotError(
                f"spilot serve --token-file {token_file}: its first line is empty; write "
                "the token there"
            )
        return lines[0].strip()
    return os.environ.get("SPILOT_SERVE_TOKEN") or None
