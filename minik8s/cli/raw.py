"""``mkctl get --raw URI``: one GET of a server path (query included), the response body
written to stdout unchanged, as kubectl prints it; a refusal ends as kubectl's error line."""

from __future__ import annotations

import argparse
import sys
import urllib.parse

from minik8s.cli.session import CliError, Session


async def cmd_raw(session: Session, args: argparse.Namespace) -> int:
    if args.args:
        raise CliError("arguments may not be passed when --raw is specified")
    parts = urllib.parse.urlsplit(args.raw)
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    resp = await session.client.request("GET", parts.path, params=params or None)
    sys.stdout.write(resp.text)
    sys.stdout.flush()
    return 0
