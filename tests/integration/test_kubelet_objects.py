"""The kubelet's watch-based ConfigMap/Secret manager (kubelet/objects.py) against a real
apiserver: one GET until the object's watch has listed, then reads from the watch (updates and
deletes seen), a missing object still NotFound, and the watch stopped with its last pod."""

from __future__ import annotations

import base64
import functools
import uuid

import pytest

from kubelet.objects import ObjectManager
from minik8s import errors
from minik8s.api.resources import CONFIGMAPS, NAMESPACES, SECRETS, SERVICEACCOUNTS
from minik8s.client.rest import ApiClient
from tests.waiting import eventually


class CountingClient:
    """The harness's client, counting the GETs the manager sends through it."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.gets: list[tuple[str, str]] = []

    async def get(self, rt, name, *, namespace=None):
        self.gets.append((rt.plural, name))
        return await self.client.get(rt, name, namespace=namespace)

    def __getattr__(self, attr):
        return getattr(self.client, attr)


# tests/waiting.py's eventually, with these tests' deadline
until = functools.partial(eventually, timeout=10.0, interval=0.05)


@pytest.fixture
async def ns(client: ApiClient) -> str:
    name = f"objm-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def test_one_watch_serves_every_pod_and_follows_changes(client: ApiClient, ns: str) -> None:
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "root-ca"},
                                     "data": {"ca.crt": "one"}}, namespace=ns)
    counting = CountingClient(client)
    m = ObjectManager(counting)
    try:
        first = await m.get(CONFIGMAPS, "root-ca", namespace=ns, pod_uid="pod-a")
        assert first["data"] == {"ca.crt": "one"}
        assert counting.gets == [("configmaps", "root-ca")]  # before the watch listed: a GET
        assert m.watched() == [("configmaps", ns, "root-ca")]

        async def served_from_watch():
            before = len(counting.gets)
            obj = await m.get(CONFIGMAPS, "root-ca", namespace=ns, pod_uid="pod-a")
            return obj if len(counting.gets) == before else None

        await until(served_from_watch, "the watch to list the ConfigMap")
        gets = len(counting.gets)
        for i in range(20):
            obj = await m.reader(f"pod-{i}").get(CONFIGMAPS, "root-ca", namespace=ns)
            assert obj["data"] == {"ca.crt": "one"}
        assert len(counting.gets) == gets, "pods after the first must be served by the watch"

        cur = await client.get(CONFIGMAPS, "root-ca", namespace=ns)
        cur["data"] = {"ca.crt": "two"}
        await client.update(CONFIGMAPS, cur)

        async def updated():
            obj = await m.get(CONFIGMAPS, "root-ca", namespace=ns, pod_uid="pod-b")
            return obj["data"] == {"ca.crt": "two"}

        await until(updated, "the update through the watch")
        await client.delete(CONFIGMAPS, "root-ca", namespace=ns)

        async def gone():
            try:
                await m.get(CONFIGMAPS, "root-ca", namespace=ns, pod_uid="pod-b")
            except errors.NotFound as e:
                return e
            return None

        e = await until(gone, "the delete through the watch")
        assert e.code == 404 and "root-ca" in e.message
        assert len(counting.gets) == gets

        for i in range(20):
            m.forget(f"pod-{i}")
        m.forget("pod-a")
        assert m.watched() == [("configmaps", ns, "root-ca")]  # pod-b still uses it
        m.forget("pod-b")
        assert m.watched() == []
    finally:
        await m.close()


async def test_missing_secret_is_not_found_and_other_kinds_pass_through(client: ApiClient, ns: str) -> None:
    m = ObjectManager(client)
    try:
        reader = m.reader("pod-x")
        with pytest.raises(errors.NotFound):
            await reader.get(SECRETS, "absent", namespace=ns)  # the first read: a GET's 404

        async def not_found_from_watch():
            if not m._watched[("secrets", ns, "absent")].informer.has_synced:
                return None
            with pytest.raises(errors.NotFound):
                await reader.get(SECRETS, "absent", namespace=ns)
            return True

        await until(not_found_from_watch, "the Secret's watch to list")
        await client.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "absent"},
                                      "data": {"k": base64.b64encode(b"v").decode()}}, namespace=ns)

        async def appeared():
            try:
                return await reader.get(SECRETS, "absent", namespace=ns)
            except errors.NotFound:
                return None

        assert (await until(appeared, "the created Secret through the watch"))["data"]["k"] == "dg=="
        # Anything but ConfigMaps and Secrets is read straight from the apiserver, unwatched.
        await client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                              "metadata": {"name": "sa"}}, namespace=ns)
        assert (await reader.get(SERVICEACCOUNTS, "sa", namespace=ns))["metadata"]["name"] == "sa"
        assert m.watched() == [("secrets", ns, "absent")]
    finally:
        await m.close()
