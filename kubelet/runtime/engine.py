"""How the Docker runtime reaches the engine for the short JSON calls of every pod's life.

Place in the picture: kubelet → ``ContainerRuntime`` (``docker.py``) → this module → dockerd.
A pod's start, sync and teardown cost a handful of engine calls each (list, create, start,
inspect, stop, remove, an image's inspect). On the local engine's unix socket they are spoken
here on the event loop with aiohttp (``SocketEngine``): no worker thread, no requests/urllib3
stack, one connection pool. In the docker SDK each such call cost the kubelet about 0.65 ms of
CPU and a thread hop holding the GIL, about eight times what it costs here
(``tests/perf/runtime_calls_bench.py``), and during a rollout the kubelet's CPU is taken from
the engine that starts the pods. An engine reached any other way (TCP, TLS, ssh) gets the same
calls through the SDK in a thread (``SdkEngine``).

``docker.py`` keeps the SDK for the rest (pulls, events, logs, exec and attach streams,
networks) and for building request bodies. Errors are ``interface``'s, as there: a 404 is the
caller's ``not_found`` error, any other failure its ``error``, and an engine that cannot be
reached ``RuntimeError_("cannot reach the Docker engine: ...")``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import aiohttp
import docker
import docker.constants
import docker.errors
import docker.transport
import docker.utils
import orjson
import requests.exceptions

from kubelet.runtime import interface as ri

__all__ = ["Engine", "SdkEngine", "SocketEngine", "call", "engine_for"]

T = TypeVar("T")

# The SDK's per-call timeout (DEFAULT_TIMEOUT_SECONDS); a stop waits its grace period on top.
_TIMEOUT_S = float(docker.constants.DEFAULT_TIMEOUT_SECONDS)
_NO_CONTENT = (204, 304)  # a start of a running or stop of a stopped container answers 304


class Engine(Protocol):
    """The engine calls a pod's life is made of (Docker Engine API, containers and images)."""

    async def containers(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """``GET /containers/json?all=1``: every container the filters match, running or not."""
        ...

    async def create(self, config: dict[str, Any], name: str, *, error: type[ri.RuntimeError_],
                     not_found: type[ri.RuntimeError_]) -> dict[str, Any]:
        """``POST /containers/create``: the engine's answer (``Id``, ``Warnings``)."""
        ...

    async def start(self, container_id: str, *, error: type[ri.RuntimeError_]) -> None: ...

    async def inspect(self, container_id: str, *, error: type[ri.RuntimeError_] = ri.RuntimeError_
                      ) -> dict[str, Any]: ...

    async def stop(self, container_id: str, timeout: int) -> None: ...

    async def remove(self, container_id: str) -> None:
        """``DELETE /containers/{id}?force=1&v=1``: the container and its anonymous volumes."""
        ...

    async def inspect_image(self, image: str) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def engine_for(api: docker.APIClient) -> Engine:
    """The engine client for ``api``'s engine: the socket one when ``api`` reaches the engine
    through a local unix socket, else the SDK itself."""
    adapter = api.get_adapter(api.base_url)
    if isinstance(adapter, docker.transport.UnixHTTPAdapter):
        return SocketEngine(adapter.socket_path, api.api_version)
    return SdkEngine(api)


class SocketEngine:
    """The calls over the engine's unix socket, with aiohttp on the running event loop.

    The session (and its connection pool) is made on first use, in the loop that uses it."""

    def __init__(self, socket_path: str, api_version: str, *, max_connections: int = 128) -> None:
        self._socket_path = socket_path
        self._prefix = f"http://docker/v{api_version}"
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.UnixConnector(path=self._socket_path, limit=self._max_connections)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                                  skip_auto_headers=("User-Agent",))
        return self._session

    async def containers(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        params = {"all": "1", "filters": docker.utils.convert_filters(filters)}
        found: list[dict[str, Any]] = await self._json("GET", "/containers/json", params=params)
        return found

    async def create(self, config: dict[str, Any], name: str, *, error: type[ri.RuntimeError_],
                     not_found: type[ri.RuntimeError_]) -> dict[str, Any]:
        # Unset top-level fields are left out, as the SDK posts them (its bodies carry Nones).
        body = {k: v for k, v in config.items() if v is not None}
        created: dict[str, Any] = await self._json("POST", "/containers/create", params={"name": name},
                                                   body=body, error=error, not_found=not_found)
        return created

    async def start(self, container_id: str, *, error: type[ri.RuntimeError_]) -> None:
        await self._json("POST", f"/containers/{quote(container_id)}/start", error=error)

    async def inspect(self, container_id: str, *, error: type[ri.RuntimeError_] = ri.RuntimeError_
                      ) -> dict[str, Any]:
        info: dict[str, Any] = await self._json("GET", f"/containers/{quote(container_id)}/json", error=error)
        return info

    async def stop(self, container_id: str, timeout: int) -> None:
        await self._json("POST", f"/containers/{quote(container_id)}/stop", params={"t": str(timeout)},
                         timeout=timeout + _TIMEOUT_S)

    async def remove(self, container_id: str) -> None:
        await self._json("DELETE", f"/containers/{quote(container_id)}", params={"force": "1", "v": "1"})

    async def inspect_image(self, image: str) -> dict[str, Any]:
        # An image reference keeps its slashes and colon in the path, as the SDK sends it.
        info: dict[str, Any] = await self._json("GET", f"/images/{quote(image, safe='/:@')}/json")
        return info

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _json(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    body: Any = None, timeout: float = _TIMEOUT_S,
                    error: type[ri.RuntimeError_] = ri.RuntimeError_,
                    not_found: type[ri.RuntimeError_] = ri.NotFoundError) -> Any:
        """One call: its decoded JSON answer (None for an empty one), or ``error`` /
        ``not_found`` carrying the engine's message."""
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else None
        try:
            async with self._http().request(method, self._prefix + path, params=params, data=data, headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ri.RuntimeError_(f"cannot reach the Docker engine: {exc or type(exc).__name__}") from exc
        if status < 300 or status == 304:
            return orjson.loads(raw) if raw and status not in _NO_CONTENT else None
        raise (not_found if status == 404 else error)(_message(status, raw))


def _message(status: int, raw: bytes) -> str:
    """The engine's own words for a failed call (``{"message": ...}``), as the SDK gives them."""
    try:
        message = orjson.loads(raw).get("message")
    except (orjson.JSONDecodeError, AttributeError):
        message = None
    return str(message) if message else raw.decode(errors="replace").strip() or f"engine answered {status}"


class SdkEngine:
    """The same calls through the docker SDK, each in a worker thread: engines that are not a
    local unix socket (TCP, TLS, ssh), which the SDK's transports know how to reach."""

    def __init__(self, api: docker.APIClient) -> None:
        self._api = api

    async def containers(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await call(self._api.containers, all=True, filters=filters)
        return found

    async def create(self, config: dict[str, Any], name: str, *, error: type[ri.RuntimeError_],
                     not_found: type[ri.RuntimeError_]) -> dict[str, Any]:
        created: dict[str, Any] = await call(self._api.create_container_from_config, config, name,
                                             error=error, not_found=not_found)
        return created

    async def start(self, container_id: str, *, error: type[ri.RuntimeError_]) -> None:
        await call(self._api.start, container_id, error=error)

    async def inspect(self, container_id: str, *, error: type[ri.RuntimeError_] = ri.RuntimeError_
                      ) -> dict[str, Any]:
        info: dict[str, Any] = await call(self._api.inspect_container, container_id, error=error)
        return info

    async def stop(self, container_id: str, timeout: int) -> None:
        await call(self._api.stop, container_id, timeout=timeout)

    async def remove(self, container_id: str) -> None:
        await call(self._api.remove_container, container_id, force=True, v=True)

    async def inspect_image(self, image: str) -> dict[str, Any]:
        info: dict[str, Any] = await call(self._api.inspect_image, image)
        return info

    async def close(self) -> None:
        return None  # the SDK client is the runtime's to close


async def call(fn: Callable[..., T], *args: Any, error: type[ri.RuntimeError_] = ri.RuntimeError_,
               not_found: type[ri.RuntimeError_] = ri.NotFoundError, **kwargs: Any) -> T:
    """Run a blocking docker SDK call in a thread, mapping its errors into ours."""
    return await asyncio.to_thread(mapped, fn, args, kwargs, error, not_found)


def mapped(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any],
           error: type[ri.RuntimeError_], not_found: type[ri.RuntimeError_]) -> T:
    """``fn(*args, **kwargs)`` with the SDK's errors turned into ours (in the calling thread)."""
    try:
        return fn(*args, **kwargs)
    except ri.RuntimeError_:
        raise
    except docker.errors.NotFound as exc:
        raise not_found(_explain(exc)) from exc
    except docker.errors.APIError as exc:
        raise error(_explain(exc)) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ri.RuntimeError_(f"cannot reach the Docker engine: {exc}") from exc


def _explain(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    return str(explanation or exc)
