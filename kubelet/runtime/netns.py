"""A TCP connection to localhost inside another process's network namespace.

This is how CRI runtimes serve ``kubectl port-forward`` (containerd's PortForward enters the
sandbox's namespace and dials ``localhost:PORT``): the forwarded port is the pod's own
loopback, so a server listening on 127.0.0.1 only is reached too, and nothing is sent to the
pod's IP from outside. A socket belongs to the namespace it is created in; ``setns`` changes
the namespace of the calling thread only. So a thread of its own (never a pooled one, which
would keep the pod's namespace if switching back failed) enters the namespace, creates the
socket, returns to the kubelet's namespace, and connects. Needs CAP_SYS_ADMIN (the kubelet
runs as root, as Kubernetes' does).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import socket
import threading

__all__ = ["dial_localhost"]

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _socket_in(pid: int) -> socket.socket:
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            _setns(target)
            try:
                return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                _setns(own)  # if this raised, the thread ends here with the pod's namespace
        finally:
            os.close(target)
    finally:
        os.close(own)


def _dial(pid: int, port: int, timeout: float) -> socket.socket:
    sock = _socket_in(pid)
    try:
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        return sock
    except BaseException:
        sock.close()
        raise


def _fail(done: asyncio.Future[socket.socket], failure: BaseException) -> None:
    if not done.done():  # the caller may have given up meanwhile
        done.set_exception(failure)


async def dial_localhost(pid: int, port: int, *, timeout: float = 10.0) -> socket.socket:
    """A connected, non-blocking socket to 127.0.0.1:``port`` in ``pid``'s network namespace;
    ``OSError`` (connection refused, no such process) as the kernel says it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def run() -> None:
        try:
            result = _dial(pid, port, timeout)
        except BaseException as e:
            loop.call_soon_threadsafe(_fail, done, e)
            return

        def deliver() -> None:
            if done.done():  # the caller gave up meanwhile
                result.close()
            else:
                done.set_result(result)
        loop.call_soon_threadsafe(deliver)

    threading.Thread(target=run, name=f"netns-dial-{pid}:{port}", daemon=True).start()
    return await done
