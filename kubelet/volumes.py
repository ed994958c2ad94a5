"""Pod volumes on the node: make each volume a host directory and each volumeMount a bind mount.

Supported sources: ``emptyDir`` (a directory under the pod's dir, gone with the pod),
``hostPath`` (with its ``type`` checks and the *OrCreate kinds), ``configMap`` and ``secret``
(their keys written as files, mounted read-only, read through the REST client),
``downwardAPI`` (metadata fields as files), ``persistentVolumeClaim`` (the bound volume's
directory, :mod:`kubelet.claims`), and ``projected`` (configMap, secret, downwardAPI and
``serviceAccountToken`` sources in one directory; the token is a pod-bound one from
:mod:`kubelet.tokens`, and :func:`refresh_projected` rewrites it before it is due). Layout, as
the kubelet's:
``<node-root>/pods/<uid>/volumes/kubernetes.io~<kind>/<name>``. File I/O runs in a thread.
A volume that cannot be set up raises :class:`VolumeError` (the pod's FailedMount event).
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from typing import Any

from kubelet import claims
from kubelet.objects import ObjectReader
from kubelet.runtime import interface as ri
from kubelet.tokens import TokenManager
from kubelet.volume_host import HostVolume, VolumeError, check_host_path
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import CONFIGMAPS, SECRETS, ResourceType

__all__ = ["VolumeError", "HostVolume", "check_host_path", "prepare_volumes", "refresh_projected", "has_token_projection", "mounts_for", "mounts_touch_disk", "remove_pod_dir",
           "pod_dir"]


def pod_dir(node_root: str, uid: str) -> str:
    return os.path.join(node_root, "pods", uid)


async def remove_pod_dir(node_root: str, uid: str) -> None:
    await asyncio.to_thread(shutil.rmtree, pod_dir(node_root, uid), True)


async def prepare_volumes(pod: typed.Pod, *, node_root: str, client: ObjectReader,
                          tokens: TokenManager | None = None) -> dict[str, HostVolume]:
    """Make every volume of ``pod`` exist on the host; returns volume name → host dir.

    ``tokens``: the kubelet's ``TokenManager``, needed by ``serviceAccountToken`` projections."""
    md, spec = pod["metadata"], pod.get("spec") or {}
    base = os.path.join(pod_dir(node_root, md["uid"]), "volumes")
    out: dict[str, HostVolume] = {}
    for vol in spec.get("volumes") or []:
        name = vol["name"]
        if "emptyDir" in vol:
            path = os.path.join(base, "kubernetes.io~empty-dir", name)
            await asyncio.to_thread(_mkdir, path, 0o777)
            out[name] = HostVolume(path)
        elif "hostPath" in vol:
            hp = vol["hostPath"] or {}
            await asyncio.to_thread(check_host_path, hp.get("path") or "", hp.get("type") or "")
            out[name] = HostVolume(hp["path"])
        elif "configMap" in vol:
            cm = vol["configMap"] or {}
            files = await _configmap_files(client, cm, md["namespace"])
            path = os.path.join(base, "kubernetes.io~configmap", name)
            await asyncio.to_thread(_write_files, path, files, cm.get("defaultMode", 0o644))
            out[name] = HostVolume(path, read_only=True)
        elif "secret" in vol:
            secret = vol["secret"] or {}
            files = await _secret_files(client, secret.get("secretName") or "", secret, md["namespace"])
            path = os.path.join(base, "kubernetes.io~secret", name)
            await asyncio.to_thread(_write_files, path, files, secret.get("defaultMode", 0o644))
            out[name] = HostVolume(path, read_only=True)
        elif "projected" in vol:
            out[name] = await _projected(pod, vol, base, client=client, tokens=tokens)
        elif "persistentVolumeClaim" in vol:
            out[name] = await claims.claim_volume(client, md["namespace"], name, vol["persistentVolumeClaim"] or {})
        elif "downwardAPI" in vol:
            downward = vol["downwardAPI"] or {}
            files = _downward_files(pod, downward)
            path = os.path.join(base, "kubernetes.io~downward-api", name)
            await asyncio.to_thread(_write_files, path, files, downward.get("defaultMode", 0o644))
            out[name] = HostVolume(path, read_only=True)
        else:
            kind = next((k for k in vol if k != "name"), "unknown")
            raise VolumeError(f"volume {name!r}: the {kind} volume type is not supported by this kubelet")
    return out


def has_token_projection(pod: typed.Pod) -> bool:
    return any("serviceAccountToken" in src for vol in (pod.get("spec") or {}).get("volumes") or []
               for src in (vol.get("projected") or {}).get("sources") or [])


async def refresh_projected(pod: typed.Pod, *, node_root: str, client: ObjectReader, tokens: TokenManager) -> None:
    """Write the pod's projected volumes again (fresh tokens, ConfigMaps, Secrets), in place."""
    base = os.path.join(pod_dir(node_root, pod["metadata"]["uid"]), "volumes")
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if "projected" in vol:
            await _projected(pod, vol, base, client=client, tokens=tokens)


async def _projected(pod: typed.Pod, vol: typed.Volume, base: str, *, client: ObjectReader,
                     tokens: TokenManager | None) -> HostVolume:
    src, ns = vol["projected"] or {}, pod["metadata"]["namespace"]
    files: dict[str, bytes] = {}
    for i, source in enumerate(src.get("sources") or []):
        if "configMap" in source:
            files.update(await _configmap_files(client, source["configMap"] or {}, ns))
        elif "secret" in source:
            secret = source["secret"] or {}
            files.update(await _secret_files(client, secret.get("name") or "", secret, ns))
        elif "downwardAPI" in source:
            files.update(_downward_files(pod, source["downwardAPI"] or {}))
        elif "serviceAccountToken" in source:
            sat = source["serviceAccountToken"] or {}
            if tokens is None:
                raise VolumeError("serviceAccountToken projections need the kubelet's token manager")
            try:
                token = await tokens.get(pod, audiences=[sat["audience"]] if sat.get("audience") else [],
                                         expiration_seconds=sat.get("expirationSeconds"))
            except errors.MiniK8sError as e:
                raise VolumeError(f"failed to fetch token: {e}") from None
            files[sat.get("path") or "token"] = token.token.encode()
        else:
            kind = next(iter(source), "unknown")
            raise VolumeError(f"projected volume {vol['name']!r}: the {kind} source (sources[{i}]) is not supported "
                              "by this kubelet")
    path = os.path.join(base, "kubernetes.io~projected", vol["name"])
    await asyncio.to_thread(_write_files, path, files, src.get("defaultMode", 0o644))
    return HostVolume(path, read_only=True)


async def _configmap_files(client: ObjectReader, src: typed.ConfigMapVolumeSource,
                           namespace: str) -> dict[str, bytes]:
    name = src.get("name") or ""
    data = await _read(client, CONFIGMAPS, name, namespace, optional=bool(src.get("optional")), kind="configmap")
    files = {k: v.encode() for k, v in (data.get("data") or {}).items()}
    files.update({k: base64.b64decode(v) for k, v in (data.get("binaryData") or {}).items()})
    return _select(files, src.get("items"), optional=bool(src.get("optional")), kind="ConfigMap", name=name)


async def _secret_files(client: ObjectReader, name: str, src: typed.SecretVolumeSource | typed.SecretProjection,
                        namespace: str) -> dict[str, bytes]:
    """The Secret ``name`` (a projection's ``name``; a volume's ``secretName``) as files."""
    data = await _read(client, SECRETS, name, namespace, optional=bool(src.get("optional")), kind="secret")
    files = {k: base64.b64decode(v) for k, v in (data.get("data") or {}).items()}
    files.update({k: v.encode() for k, v in (data.get("stringData") or {}).items()})
    return _select(files, src.get("items"), optional=bool(src.get("optional")), kind="Secret", name=name)


def _downward_files(pod: typed.Pod, src: typed.DownwardAPIVolumeSource) -> dict[str, bytes]:
    return {item["path"]: _downward(pod, (item.get("fieldRef") or {}).get("fieldPath", "")).encode()
            for item in src.get("items") or [] if item.get("fieldRef")}


def mounts_touch_disk(container: typed.Container) -> bool:
    """Whether :func:`mounts_for` touches the disk for ``container`` (it makes the ``subPath``
    dirs): only then is it worth a thread; without a subPath it is a few dict lookups."""
    return any(m.get("subPath") for m in container.get("volumeMounts") or [])


def mounts_for(container: typed.Container, volumes: dict[str, HostVolume]) -> list[ri.Mount]:
    """The bind mounts of one container's ``volumeMounts`` (with ``subPath``)."""
    mounts = []
    for m in container.get("volumeMounts") or []:
        vol = volumes.get(m.get("name", ""))
        if vol is None:
            raise VolumeError(f"volumeMount {m.get('name')!r} names no volume of the pod")
        host = vol.path
        if m.get("subPath"):
            sub = os.path.normpath(m["subPath"])
            if sub.startswith("..") or os.path.isabs(sub):
                raise VolumeError(f"subPath {m['subPath']!r} must be a relative path inside the volume")
            host = os.path.join(host, sub)
            if not os.path.exists(host):
                os.makedirs(host, exist_ok=True)
        mounts.append(ri.Mount(host_path=host, container_path=m["mountPath"],
                               read_only=bool(m.get("readOnly")) or vol.read_only))
    return mounts


async def _read(client: ObjectReader, rt: ResourceType, name: str, namespace: str, *, optional: bool,
                kind: str) -> dict[str, Any]:
    try:
        return await client.get(rt, name, namespace=namespace)
    except errors.NotFound:
        if optional:
            return {}
        raise VolumeError(f'{kind} "{name}" not found') from None


def _select(files: dict[str, bytes], items: list[typed.KeyToPath] | None, *, optional: bool, kind: str,
            name: str) -> dict[str, bytes]:
    if not items:
        return files
    out = {}
    for item in items:
        if item["key"] not in files:
            if optional:
                continue
            raise VolumeError(f"configured to use key {item['key']!r} of {kind} {name!r}, "
                              "but the key is not present")
        out[item.get("path") or item["key"]] = files[item["key"]]
    return out


def _downward(pod: typed.Pod, path: str) -> str:
    md = pod["metadata"]
    if path == "metadata.name":
        return md.get("name", "")
    if path == "metadata.namespace":
        return md.get("namespace", "")
    if path == "metadata.uid":
        return md.get("uid", "")
    if path in ("metadata.labels", "metadata.annotations"):
        values = (md.get("labels") if path == "metadata.labels" else md.get("annotations")) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    raise VolumeError(f"downwardAPI fieldPath {path!r} is not supported")


def _mkdir(path: str, mode: int) -> None:
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)  # umask must not narrow an emptyDir every container user may write


def _write_files(path: str, files: dict[str, bytes], mode: int) -> None:
    # Write into a fresh dir and swap it in, so a container never reads a half-written set.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = path + ".new"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    os.chmod(staging, 0o755)
    for rel, content in files.items():
        target = os.path.join(staging, os.path.normpath(rel))
        if not target.startswith(staging + os.sep):
            raise VolumeError(f"item path {rel!r} escapes the volume")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(content)
        os.chmod(target, mode)
    # A bind-mounted dir cannot be swapped (the mount keeps the old inode): refresh in place,
    # each file replaced atomically (a reader sees the old token or the new one, never none).
    if os.path.isdir(path):
        fresh = set(os.listdir(staging))
        for entry in os.listdir(path):
            full = os.path.join(path, entry)
            is_dir = os.path.isdir(full) and not os.path.islink(full)
            if entry not in fresh or is_dir:
                shutil.rmtree(full) if is_dir else os.unlink(full)
        for entry in fresh:
            os.replace(os.path.join(staging, entry), os.path.join(path, entry))
        os.rmdir(staging)
    else:
        os.rename(staging, path)
