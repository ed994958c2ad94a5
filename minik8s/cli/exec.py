"""``mkctl exec``: run a command in a pod's container, as ``kubectl exec`` does.

The same conversation as kubectl 1.32: GET the pod (NotFound, a completed pod and the default
container are decided here), then a WebSocket to ``pods/{name}/exec`` speaking
``v5.channel.k8s.io`` -- binary messages whose first byte is the channel (0 stdin, 1 stdout,
2 stderr, 3 the final Status, 4 terminal size, 255 "stream closed": our stdin's EOF). The exit
status is the command's (``NonZeroExitCode``'s ``ExitCode`` cause). A refused upgrade is asked
again as a plain request, as kubectl's SPDY fallback does, so the error printed is the one
kubectl prints. ``-t`` with a terminal puts it in raw mode and sends its size on every SIGWINCH.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, cast

from minik8s import errors, taskgroup
from minik8s.api.resources import PODS
from minik8s.cli.session import CliError, ExitSilently, Session, Subparsers

if TYPE_CHECKING:  # aiohttp (the rest module) and the typed views (~7 ms): not at mkctl's start
    from minik8s.api import typed
    from minik8s.client.rest import WebSocket

PROTOCOL = "v5.channel.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
# kubectl's heartbeat: a ping every 5 s keeps idle sessions through proxies.
_HEARTBEAT_S = 5.0


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("exec", parents=[common_flags], allow_abbrev=False,
                       help="Execute a command in a container")
    p.add_argument("pod", metavar="(POD | TYPE/NAME)")
    p.add_argument("-c", "--container", default="", help="the container (default: the pod's default one)")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the container")
    p.add_argument("-t", "--tty", action="store_true", help="stdin is a TTY")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the remote command's output")
    p.set_defaults(func=cmd_exec)


def default_container(pod: typed.Pod, *, quiet: bool) -> str:
    """kubectl's choice: the annotated default container, else the first, saying so."""
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    wanted = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if wanted and wanted in names:
        return wanted
    if not names:
        raise CliError(f"pod {pod['metadata']['name']} does not have any containers")
    if len(names) > 1 and not quiet:
        print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
    return names[0]


def exit_code(status: dict[str, Any]) -> int:
    """0 for Success, the command's code for NonZeroExitCode; anything else is an error."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                with contextlib.suppress(ValueError):
                    return int(cause.get("message"))
    raise CliError(status.get("message") or "the command failed")


async def cmd_exec(session: Session, args: argparse.Namespace) -> int:
    command = args.dash_args or []
    if not command:
        raise CliError("you must specify at least one command for the container")
    name = args.pod.split("/", 1)[1] if args.pod.startswith(("pod/", "pods/")) else args.pod
    pod = cast("typed.Pod", await session.client.get(PODS, name, namespace=session.namespace))
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    container = args.container or default_container(pod, quiet=args.quiet)
    tty = args.tty
    if tty and not (args.stdin and os.isatty(sys.stdin.fileno())):
        if not args.quiet:
            print("Unable to use a TTY - input is not a terminal or the right kind of file", file=sys.stderr)
        tty = False
    params = [("command", c) for c in command] + [("container", container), ("stdout", "true")]
    params += [("stdin", "true")] if args.stdin else []
    params += [("tty", "true")] if tty else [("stderr", "true")]
    path = f"/api/v1/namespaces/{session.namespace}/pods/{name}/exec"
    try:
        ws = await session.client.websocket(path, params=params, protocols=(PROTOCOL,), heartbeat=_HEARTBEAT_S)
    except errors.ConnectionFailed as e:
        raise CliError(str(e)) from None
    async with ws:
        code = await _stream(ws, stdin=args.stdin, tty=tty)
    if code:
        if not args.quiet:
            print(f"command terminated with exit code {code}", file=sys.stderr)
        raise ExitSilently(code)
    return 0


async def _stream(ws: WebSocket, *, stdin: bool, tty: bool) -> int:
    """Relay our stdio over the session until the server's Status; the command's exit code."""
    loop = asyncio.get_running_loop()
    status: dict[str, Any] | None = None
    restore = _raw_terminal() if tty else None

    async def send_size() -> None:
        with contextlib.suppress(OSError, errors.ConnectionFailed):
            size = os.get_terminal_size(sys.stdin.fileno())
            await ws.send_bytes(bytes((RESIZE,)) + json.dumps({"Width": size.columns,
                                                               "Height": size.lines}).encode())

    chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
    if stdin:
        _read_stdin_in_thread(loop, chunks)

    async def pump_stdin() -> None:
        # The command may end (and the server close) before our input does: nothing to send to.
        with contextlib.suppress(errors.ConnectionFailed):
            while (data := await chunks.get()) is not None:
                await ws.send_bytes(bytes((STDIN,)) + data)
            await ws.send_bytes(bytes((CLOSE, STDIN)))

    tasks: list[asyncio.Task[None]] = []
    try:
        if tty:
            await send_size()
            loop.add_signal_handler(signal.SIGWINCH, lambda: tasks.append(asyncio.ensure_future(send_size())))
        if stdin:
            tasks.append(asyncio.create_task(pump_stdin()))
        async for message in ws:
            if not message:
                continue
            channel, data = message[0], message[1:]
            if channel in (STDOUT, STDERR):
                out = sys.stdout.buffer if channel == STDOUT else sys.stderr.buffer
                out.write(data)
                out.flush()
            elif channel == ERROR:
                status = json.loads(data) if data else {"status": "Success"}
    finally:
        if tty:
            loop.remove_signal_handler(signal.SIGWINCH)
        await taskgroup.cancel_and_wait(tasks)
        if restore is not None:
            restore()
    if status is None:
        raise CliError("the connection to the server closed before the command's status arrived")
    return exit_code(status)


def _read_stdin_in_thread(loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
    """Blocking reads of fd 0 (a pipe, a file or a terminal alike) on a daemon thread; ``None``
    marks EOF. A daemon, so a command that ends first never waits for our input."""
    def reader() -> None:
        fd = sys.stdin.fileno()
        while True:
            try:
                data = os.read(fd, 32 * 1024)
            except OSError:
                data = b""
            loop.call_soon_threadsafe(chunks.put_nowait, data or None)
            if not data:
                return
    threading.Thread(target=reader, name="mkctl-exec-stdin", daemon=True).start()


def _raw_terminal() -> Any:
    """Put the terminal in raw mode (keys go to the remote TTY as typed); the restorer."""
    import termios
    import tty as tty_
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    # TCSANOW, as kubectl: TCSAFLUSH (setraw's default) would drop what was typed ahead.
    tty_.setraw(fd, termios.TCSANOW)

    def restore() -> None:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return restore
