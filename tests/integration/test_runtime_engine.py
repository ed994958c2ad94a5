"""The Docker runtime's engine calls (kubelet/runtime/engine.py) on the real engine: the
socket client on the event loop answers as the docker SDK does for the same calls, and the
engine's refusals arrive as the runtime's errors with the engine's own words."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import docker
import pytest

from kubelet.runtime import interface as ri
from kubelet.runtime.engine import Engine, SdkEngine, SocketEngine, engine_for

pytestmark = pytest.mark.docker

BUSYBOX = "minik8s/busybox:latest"


@pytest.fixture
async def engines(test_images: Any, docker_client: docker.DockerClient) -> AsyncIterator[tuple[SocketEngine, SdkEngine]]:
    socket_engine = engine_for(docker_client.api)
    assert isinstance(socket_engine, SocketEngine)  # the local engine is a unix socket here
    yield socket_engine, SdkEngine(docker_client.api)
    await socket_engine.close()


@pytest.fixture
def label() -> str:
    return f"io.minik8s.test.engine={uuid.uuid4().hex[:10]}"


@pytest.fixture
def cleanup(docker_client: docker.DockerClient, label: str) -> Any:
    yield
    for c in docker_client.api.containers(all=True, filters={"label": label}):
        docker_client.api.remove_container(c["Id"], force=True)


def config(api: docker.APIClient, label: str, *command: str) -> dict[str, Any]:
    key, value = label.split("=")
    body: dict[str, Any] = api.create_container_config(
        BUSYBOX, list(command), labels={key: value, "io.minik8s.test.more": "x"},
        host_config=api.create_host_config(network_mode="none"), environment=["A=1"], detach=True)
    return body


async def test_both_engines_create_start_list_inspect_stop_and_remove_alike(
        engines: tuple[SocketEngine, SdkEngine], docker_client: docker.DockerClient, label: str, cleanup: None) -> None:
    api = docker_client.api
    ids: dict[str, str] = {}
    for name, engine in zip(("socket", "sdk"), engines, strict=True):
        e: Engine = engine
        created = await e.create(config(api, label, "sleep", "3600"), f"engine-{name}-{uuid.uuid4().hex[:8]}",
                                 error=ri.ContainerCreateError, not_found=ri.ContainerCreateError)
        assert created["Id"] and created["Warnings"] == []
        ids[name] = created["Id"]
        await e.start(created["Id"], error=ri.ContainerStartError)
        await e.start(created["Id"], error=ri.ContainerStartError)  # already running: the engine's 304
    # Each engine sees both containers, with the same fields.
    for engine in engines:
        listed = {c["Id"]: c for c in await engine.containers({"label": [label]})}
        assert set(listed) == set(ids.values())
        assert {c["State"] for c in listed.values()} == {"running"}
        assert listed[ids["socket"]].keys() == listed[ids["sdk"]].keys()
    socket_engine, sdk_engine = engines
    a, b = await socket_engine.inspect(ids["socket"]), await sdk_engine.inspect(ids["sdk"])
    for field in ("Image", "Cmd", "Env", "Labels"):
        assert a["Config"][field] == b["Config"][field], field
    assert a["HostConfig"]["NetworkMode"] == b["HostConfig"]["NetworkMode"] == "none"
    assert await socket_engine.inspect(ids["sdk"]) == await sdk_engine.inspect(ids["sdk"])
    assert (await socket_engine.inspect_image(BUSYBOX))["Id"] == (await sdk_engine.inspect_image(BUSYBOX))["Id"]
    # Filters narrow alike: a label value that matches nothing, a state.
    for engine in engines:
        assert await engine.containers({"label": [f"{label}-nothing"]}) == []
        assert len(await engine.containers({"label": [label], "status": "running"})) == 2
    for name, engine in zip(("socket", "sdk"), engines, strict=True):
        await engine.stop(ids[name], 0)
        await engine.stop(ids[name], 0)  # already stopped: 304
        assert (await engine.inspect(ids[name]))["State"]["Status"] == "exited"
        await engine.remove(ids[name])
    assert docker_client.api.containers(all=True, filters={"label": label}) == []


async def test_refusals_are_the_runtimes_errors_in_the_engines_words(
        engines: tuple[SocketEngine, SdkEngine], docker_client: docker.DockerClient, label: str, cleanup: None) -> None:
    missing = f"no-such-{uuid.uuid4().hex[:10]}"
    for engine in engines:
        with pytest.raises(ri.NotFoundError, match=f"No such container: {missing}"):
            await engine.inspect(missing)
        with pytest.raises(ri.NotFoundError, match="No such container"):
            await engine.stop(missing, 0)
        with pytest.raises(ri.NotFoundError, match="No such container"):
            await engine.remove(missing)
        with pytest.raises(ri.NotFoundError):
            await engine.inspect_image(f"minik8s/{missing}:v1")
        # A 404 of a create (no such image) is the caller's not_found; a 409 (name taken) its error.
        body = config(docker_client.api, label, "true")
        with pytest.raises(ri.ContainerCreateError, match="No such image"):
            await engine.create({**body, "Image": f"minik8s/{missing}:v1"}, f"engine-{uuid.uuid4().hex[:8]}",
                                error=ri.RuntimeError_, not_found=ri.ContainerCreateError)
        name = f"engine-{uuid.uuid4().hex[:8]}"
        await engine.create(body, name, error=ri.ContainerCreateError, not_found=ri.ContainerCreateError)
        with pytest.raises(ri.ContainerCreateError, match="already in use") as refused:
            await engine.create(body, name, error=ri.ContainerCreateError, not_found=ri.NotFoundError)
        assert type(refused.value) is ri.ContainerCreateError


async def test_an_engine_that_is_not_there_cannot_be_reached(tmp_path: Any) -> None:
    engine = SocketEngine(str(tmp_path / "docker.sock"), "1.41")
    try:
        with pytest.raises(ri.RuntimeError_, match="cannot reach the Docker engine") as failed:
            await engine.containers({})
        assert type(failed.value) is ri.RuntimeError_
    finally:
        await engine.close()


def test_an_engine_over_tcp_goes_through_the_sdk() -> None:
    api = docker.APIClient(base_url="tcp://127.0.0.1:1", version="1.41")
    try:
        assert isinstance(engine_for(api), SdkEngine)
    finally:
        api.close()
