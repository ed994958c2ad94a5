"""``kubectl exec`` on the node: the remote-command WebSocket protocol over a runtime exec.

The apiserver's ``pods/{name}/exec`` proxies the client's WebSocket to the node API's
``/exec/{ns}/{pod}/{container}?command=..&input=1&output=1&error=1&tty=1`` (Kubernetes'
kubelet parameters). This module speaks the protocol: every binary message's first byte is a
channel -- 0 stdin, 1 stdout, 2 stderr, 3 the final status, 4 terminal resizes
(``{"Width":..,"Height":..}``) and, from ``v5.channel.k8s.io`` on, 255 "close stream N" (the
client's stdin reached EOF). The session ends with the status on channel 3 -- a meta/v1
Status from v4 on (``NonZeroExitCode`` with an ``ExitCode`` cause carrying the code), plain
text before -- and a normal close.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.websockets import WebSocket, WebSocketDisconnect

from kubelet.runtime import interface as ri

__all__ = ["PROTOCOLS", "ExecOptions", "parse_options", "choose_protocol", "protocol_version", "final_status",
           "relay", "send_status"]

log = logging.getLogger(__name__)

# Newest first, as Kubernetes' servers list them; the client's order decides.
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
             "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


@dataclasses.dataclass(frozen=True, slots=True)
class ExecOptions:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def parse_options(query: QueryParams, *, attach: bool = False) -> ExecOptions:
    """The kubelet's exec (or, ``attach``, attach: no command) parameters; ``ValueError``
    with Kubernetes' words when unusable."""
    def flag(name: str) -> bool:
        return query.get(name) == "1"
    tty = flag("tty")
    # A terminal merges stderr into its one output stream, so tty drops stderr (as the kubelet).
    opts = ExecOptions(tuple(query.getlist("command")), flag("input"), flag("output"),
                       flag("error") and not tty, tty)
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise ValueError("you must specify at least 1 of stdin, stdout, stderr")
    if not opts.command and not attach:
        raise ValueError("you must specify at least one command for the container")
    return opts


def choose_protocol(offered: Sequence[str]) -> str | None:
    """The first protocol the client offers that we speak; ``""`` when it offered none
    (the original ``channel.k8s.io`` then, as Kubernetes assumes)."""
    if not offered:
        return ""
    return next((p for p in offered if p in PROTOCOLS), None)


def protocol_version(protocol: str) -> int:
    return int(protocol[1]) if protocol.startswith("v") else 1


def final_status(exit_code: int | None, command: Sequence[str], *, error: str | None = None) -> dict[str, Any]:
    """The meta/v1 Status a v4+ client reads on channel 3 (kubectl exits with the code)."""
    if error is not None:
        return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {error}",
                "reason": "InternalError", "code": 500,
                "details": {"causes": [{"message": error}]}}
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: command '{' '.join(command)}' "
                       f"exited with {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


def _sizes(payload: bytes) -> list[tuple[int, int]]:
    """Every ``{"Width":..,"Height":..}`` in a resize message (a client may send several)."""
    text, out, at = payload.decode(errors="replace"), [], 0
    decoder = json.JSONDecoder()
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        try:
            obj, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            break
        if isinstance(obj, Mapping):
            out.append((int(obj.get("Width") or 0), int(obj.get("Height") or 0)))
    return out


async def relay(ws: WebSocket, session: ri.ExecSession, opts: ExecOptions, protocol: str) -> None:
    """Relay an accepted WebSocket and a started exec until the command ends (then send its
    status and close) or the client goes away (then release the exec)."""
    version = protocol_version(protocol)

    async def output() -> None:
        while (chunk := await session.read()) is not None:
            channel, data = chunk
            if (channel == STDOUT and opts.stdout) or (channel == STDERR and opts.stderr):
                await ws.send_bytes(bytes((channel,)) + data)

    async def input_() -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data: bytes = msg.get("bytes") or (msg.get("text") or "").encode()
            if not data:
                continue
            channel, payload = data[0], data[1:]
            try:
                if channel == STDIN and opts.stdin:
                    await session.write(payload)
                elif channel == RESIZE and opts.tty:
                    for width, height in _sizes(payload):
                        if width > 0 and height > 0:
                            await session.resize(width=width, height=height)
                elif channel == CLOSE and version >= 5 and payload[:1] == bytes((STDIN,)):
                    await session.close_stdin()
            except ri.RuntimeError_ as e:
                # Input for a command that stopped reading: drop it, the output says the rest.
                log.debug("exec input dropped: %s", e)

    out_task = asyncio.create_task(output())
    in_task = asyncio.create_task(input_())
    try:
        done, _ = await asyncio.wait({out_task, in_task}, return_when=asyncio.FIRST_COMPLETED)
        if out_task not in done:  # the client left first
            return
        try:
            out_task.result()
            status = final_status(await session.wait(), opts.command)
        except ri.RuntimeError_ as e:
            status = final_status(None, opts.command, error=f"error executing command in container: {e}")
        except WebSocketDisconnect:
            return
        await send_status(ws, status, version)
        with contextlib.suppress(Exception):
            await ws.close(1000)
    finally:
        for task in (out_task, in_task):
            task.cancel()
        await session.close()
        await asyncio.gather(out_task, in_task, return_exceptions=True)


async def send_status(ws: WebSocket, status: dict[str, Any], version: int) -> None:
    if version >= 4:
        body = orjson.dumps(status)
    elif status["status"] == "Success":
        return
    else:  # v1-v3 carry the error's text alone
        body = status["message"].encode()
    with contextlib.suppress(Exception):
        await ws.send_bytes(bytes((ERROR,)) + body)
