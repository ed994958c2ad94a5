"""Container probes: liveness, readiness and startup, each a small task per running container.

As the kubelet's prober manager: a worker per (pod uid, container, probe kind) waits
``initialDelaySeconds`` from the container's start, then probes every ``periodSeconds`` with
``timeoutSeconds``; ``successThreshold`` / ``failureThreshold`` consecutive results flip its
result. Readiness starts False, liveness True, startup False; liveness and readiness do not
run until the startup probe has succeeded. A changed result calls ``on_change(uid)`` so the
pod worker re-syncs (it kills a container whose liveness failed, and rewrites Ready).
Handlers: ``exec`` (``runtime.exec_sync``), ``httpGet`` (httpx to the pod IP), ``tcpSocket``.
A runtime that decides probes itself (``decided_probe``: the hollow one) is asked instead, and
nothing is run: a hollow node never dials a pod address nor execs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kubelet.runtime import interface as ri
from minik8s.api import typed
from minik8s.client.events import WARNING, EventRecorder

if TYPE_CHECKING:
    import httpx

__all__ = ["ProbeManager", "run_probe"]

log = logging.getLogger(__name__)

LIVENESS, READINESS, STARTUP = "Liveness", "Readiness", "Startup"
_FIELD: dict[str, Literal["livenessProbe", "readinessProbe", "startupProbe"]] = {
    LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}


@dataclass
class _Worker:
    container_id: str
    task: asyncio.Task[None]
    result: bool
    failed: bool = False  # liveness/startup gave up: the container must be restarted
    pod: typed.Pod | None = None  # the pod as last synced (its annotations may decide hollow probes)


async def run_probe(runtime: ri.ContainerRuntime, probe: typed.Probe, *, container: typed.Container, container_id: str,
                    pod_ip: str | None, http: Callable[[], httpx.AsyncClient]) -> tuple[bool, str]:
    """One probe attempt: (success, message). ``http()`` gives the client of an httpGet probe."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    if probe.get("exec"):
        cmd = probe["exec"].get("command") or []
        try:
            res = await runtime.exec_sync(ri.ContainerId(container_id), cmd, timeout=timeout)
        except ri.ExecTimeoutError:
            return False, f"command {cmd!r} timed out"
        except ri.RuntimeError_ as e:
            return False, str(e)
        return res.exit_code == 0, res.output.decode(errors="replace").strip()
    if probe.get("httpGet"):
        hg = probe["httpGet"]
        port = _port(hg.get("port"), container)
        host = hg.get("host") or pod_ip or "127.0.0.1"
        scheme = (hg.get("scheme") or "HTTP").lower()
        path = hg.get("path") or "/"
        if not path.startswith("/"):
            path = "/" + path
        url = f"{scheme}://{host}:{port}{path}"
        headers = {h["name"]: h["value"] for h in hg.get("httpHeaders") or []}
        headers.setdefault("User-Agent", "kube-probe/1.32")
        import httpx  # loaded by the first HTTP probe (see ProbeManager.client)

        try:
            resp = await http().get(url, headers=headers, timeout=timeout)
        except httpx.HTTPError as e:
            return False, f'Get "{url}": {e or type(e).__name__}'
        if 200 <= resp.status_code < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {resp.status_code}"
    if probe.get("tcpSocket"):
        ts = probe["tcpSocket"]
        port = _port(ts.get("port"), container)
        host = ts.get("host") or pod_ip or "127.0.0.1"
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as e:
            return False, f"dial tcp {host}:{port}: {e.strerror if isinstance(e, OSError) and e.strerror else 'i/o timeout'}"
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True, ""
    return False, "probe has no handler (exec, httpGet or tcpSocket)"


def _port(port: int | str | None, container: typed.Container) -> int:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} is not a number nor a named port of the container")


class ProbeManager:
    def __init__(self, runtime: ri.ContainerRuntime, *, recorder: EventRecorder, on_change: Callable[[str], None]) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.on_change = on_change
        self._workers: dict[tuple[str, str, str], _Worker] = {}
        # The HTTP client is made by the first httpGet probe: ``import httpx`` costs a node
        # without one ~5 MiB (it imports its command-line client's rich, pygments and click
        # whenever they are installed). A missing httpx still stops the kubelet here, at start.
        if importlib.util.find_spec("httpx") is None:
            raise ModuleNotFoundError("No module named 'httpx' (the kubelet's httpGet probes need it)", name="httpx")
        self._http: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        """The client of httpGet probes, made by the first."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(verify=False, follow_redirects=True, trust_env=False)
        return self._http

    async def close(self) -> None:
        for w in self._workers.values():
            w.task.cancel()
        self._workers.clear()
        if self._http is not None:
            await self._http.aclose()

    # what the pod worker asks

    def ensure(self, pod: typed.Pod, container: typed.Container, status: ri.ContainerStatus, pod_ip: str | None) -> None:
        """Probe workers for this running container (restarted when its id changed)."""
        uid = pod["metadata"]["uid"]
        for kind, field in _FIELD.items():
            probe = container.get(field)
            key = (uid, container["name"], kind)
            worker = self._workers.get(key)
            if probe is None:
                if worker is not None:
                    worker.task.cancel()
                    del self._workers[key]
                continue
            if worker is not None and worker.container_id == status.id:
                worker.pod = pod
                continue
            if worker is not None:
                worker.task.cancel()
            initial = kind == LIVENESS
            w = _Worker(status.id, task=None, result=initial, pod=pod)  # type: ignore[arg-type]
            w.task = asyncio.create_task(
                self._loop(w, key, pod, container, probe, status.started_at, pod_ip),
                name=f"probe {kind} {pod['metadata']['name']}/{container['name']}")
            self._workers[key] = w

    def stop_container(self, uid: str, name: str) -> None:
        for kind in _FIELD:
            w = self._workers.pop((uid, name, kind), None)
            if w is not None:
                w.task.cancel()

    def remove_pod(self, uid: str) -> None:
        for key in [k for k in self._workers if k[0] == uid]:
            self._workers.pop(key).task.cancel()

    def started(self, uid: str, name: str, container_id: str) -> bool:
        w = self._workers.get((uid, name, STARTUP))
        return w is None or (w.container_id == container_id and w.result)

    def ready(self, uid: str, name: str, container_id: str) -> bool:
        if not self.started(uid, name, container_id):
            return False
        w = self._workers.get((uid, name, READINESS))
        return w is None or (w.container_id == container_id and w.result)

    def failed(self, uid: str, name: str, container_id: str) -> str | None:
        """Why the container must be restarted (liveness or startup failure), else None."""
        for kind in (LIVENESS, STARTUP):
            w = self._workers.get((uid, name, kind))
            if w is not None and w.container_id == container_id and w.failed:
                return f"Container {name} failed {kind.lower()} probe, will be restarted"
        return None

    # the worker

    async def _loop(self, w: _Worker, key: tuple[str, str, str], pod: typed.Pod, container: typed.Container,
                    probe: typed.Probe,
                    started_at: datetime.datetime | None, pod_ip: str | None) -> None:
        uid, name, kind = key
        period = max(1, int(probe.get("periodSeconds") or 10))
        success_needed = max(1, int(probe.get("successThreshold") or 1))
        failure_needed = max(1, int(probe.get("failureThreshold") or 3))
        delay = float(probe.get("initialDelaySeconds") or 0)
        if started_at is not None:
            ran = (datetime.datetime.now(datetime.UTC) - started_at).total_seconds()
            delay = max(0.0, delay - ran)
        await asyncio.sleep(delay)
        successes = failures = 0
        while True:
            if kind != STARTUP and not self.started(uid, name, w.container_id):
                await asyncio.sleep(period)
                continue
            try:
                decided = self.runtime.decided_probe(
                    ri.ContainerId(w.container_id), container=name, kind=kind,
                    annotations=((w.pod or pod).get("metadata") or {}).get("annotations") or {})
                if decided is not None:
                    ok, message = decided
                else:
                    ok, message = await run_probe(self.runtime, probe, container=container,
                                                  container_id=w.container_id, pod_ip=pod_ip, http=self.client)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                ok, message = False, str(e)
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self.recorder.event(pod, WARNING, "Unhealthy", f"{kind} probe failed: {message}",
                                    field_path=f"spec.containers{{{name}}}")
            changed = False
            if ok and not w.result and successes >= success_needed:
                w.result, changed = True, True
            elif not ok and failures >= failure_needed and (w.result or kind == STARTUP):
                w.result, changed = False, True
                w.failed = kind in (LIVENESS, STARTUP)
            if changed:
                log.debug("%s probe of %s/%s: %s", kind, pod["metadata"]["name"], name, w.result)
                self.on_change(uid)
            if kind == STARTUP and w.result:
                return  # a startup probe stops once it has succeeded
            if w.failed:
                return  # the container will be killed; its successor gets a fresh worker
            await asyncio.sleep(period)
