"""Durable means fsynced: kill -9 the apiserver in the middle of a stream of acknowledged
creates, restart it on the same data dir, and every acknowledged object is there with the
resourceVersion it was acknowledged with; a watcher resumes from its last resourceVersion
without a gap."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx


def test_kill_9_loses_no_acknowledged_write(apiserver_factory):
    server = apiserver_factory()
    acked: dict[str, str] = {}
    stop = threading.Event()
    watched: list[dict] = []
    with server.http() as c:
        base_rv = c.get("/api/v1/namespaces/default/configmaps").json()["metadata"]["resourceVersion"]

    def writer(idx: int) -> None:
        with server.http(timeout=5) as c:
            i = 0
            while not stop.is_set():
                name = f"w{idx}-{i}"
                try:
                    r = c.post("/api/v1/namespaces/default/configmaps",
                               json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                                     "data": {"i": str(i)}})
                except httpx.HTTPError:
                    return  # the server died under us: this create was never acknowledged
                if r.status_code == 201:
                    acked[name] = r.json()["metadata"]["resourceVersion"]
                i += 1

    def watcher() -> None:
        try:
            with server.http(timeout=30) as c:
                with c.stream("GET", "/api/v1/namespaces/default/configmaps",
                              params={"watch": "1", "resourceVersion": base_rv}) as r:
                    for line in r.iter_lines():
                        if line:
                            watched.append(json.loads(line))
        except httpx.HTTPError:
            pass

    wt = threading.Thread(target=watcher)
    wt.start()
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 150:
        time.sleep(0.01)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join(10)
    wt.join(10)
    assert len(acked) >= 150

    server.start()
    with server.http(timeout=10) as c:
        stored = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                  for o in c.get("/api/v1/namespaces/default/configmaps").json()["items"]}
        for name, rv in acked.items():
            assert stored.get(name) == rv, f"acknowledged {name}@{rv} lost or changed ({stored.get(name)})"

        # the watcher resumes after the last event it saw and misses nothing
        last = watched[-1]["object"]["metadata"]["resourceVersion"] if watched else base_rv
        seen = {e["object"]["metadata"]["name"] for e in watched}
        missing = [n for n in stored if n not in seen and n.startswith("w")]
        resumed: list[dict] = []
        with c.stream("GET", "/api/v1/namespaces/default/configmaps",
                      params={"watch": "1", "resourceVersion": last, "timeoutSeconds": "3"}) as r:
            for line in r.iter_lines():
                if line:
                    resumed.append(json.loads(line))
                if len(resumed) >= len(missing):
                    break
    assert all(e["type"] == "ADDED" for e in resumed)
    assert sorted(e["object"]["metadata"]["name"] for e in resumed) == sorted(missing)
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in watched + resumed]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)
