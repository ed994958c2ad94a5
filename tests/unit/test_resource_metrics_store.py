"""The metrics-server arithmetic of apiserver/resourcemetrics/store.py: a rate needs two
readings, window and timestamp come from them, a pod needs every container measured, a
restarted counter or a repeated reading gives no rate, and Go's Duration strings."""

from __future__ import annotations

from apiserver.resourcemetrics.store import MetricsStore, go_duration


def _stats(t: str, cpu_ns: int, memory: int) -> dict:
    return {"cpu": {"time": t, "usageCoreNanoSeconds": cpu_ns}, "memory": {"time": t, "workingSetBytes": memory}}


def _summary(t: str, node_cpu: int, pods: dict[tuple[str, str], dict[str, tuple[int, int]]]) -> dict:
    return {"node": {"nodeName": "n1", **_stats(t, node_cpu, 2 << 30)},
            "pods": [{"podRef": {"namespace": ns, "name": name, "uid": name},
                      "containers": [{"name": c, **_stats(t, cpu, mem)} for c, (cpu, mem) in cs.items()]}
                     for (ns, name), cs in pods.items()]}


def test_a_rate_needs_two_readings_and_takes_their_window() -> None:
    s = MetricsStore()
    s.update_node("n1", _summary("2026-01-01T00:00:00.000000Z", 10 ** 9, {("a", "p"): {"c": (0, 1 << 20)}}))
    assert s.node_metrics("n1") is None and s.pod_metrics("a", "p") is None
    # 15 s later: the node used 3 cores' worth, the container half a core
    s.update_node("n1", _summary("2026-01-01T00:00:15.000000Z", 46 * 10 ** 9,
                                 {("a", "p"): {"c": (7_500_000_000, 3 << 20)}}))
    node = s.node_metrics("n1")
    assert node["usage"] == {"cpu": "3", "memory": "2Gi"}
    assert node["window"] == "15s" and node["timestamp"] == "2026-01-01T00:00:15Z"
    pod = s.pod_metrics("a", "p")
    assert pod["containers"] == [{"name": "c", "usage": {"cpu": "500m", "memory": "3Mi"}}]
    assert pod["metadata"]["namespace"] == "a" and pod["window"] == "15s"


def test_a_repeated_reading_keeps_the_last_rate_and_a_reset_counter_gives_none() -> None:
    s = MetricsStore()
    s.update_node("n1", _summary("2026-01-01T00:00:00Z", 0, {("a", "p"): {"c": (0, 1024)}}))
    s.update_node("n1", _summary("2026-01-01T00:00:10Z", 0, {("a", "p"): {"c": (10 ** 9, 1024)}}))
    s.update_node("n1", _summary("2026-01-01T00:00:10Z", 0, {("a", "p"): {"c": (10 ** 9, 1024)}}))
    assert s.pod_metrics("a", "p")["containers"][0]["usage"]["cpu"] == "100m"
    s.update_node("n1", _summary("2026-01-01T00:00:20Z", 0, {("a", "p"): {"c": (10 ** 6, 1024)}}))
    assert s.pod_metrics("a", "p") is None  # the container restarted: wait for a second reading


def test_a_pod_with_an_unmeasured_container_has_no_metrics_and_gone_pods_are_forgotten() -> None:
    s = MetricsStore()
    for t, cpu in (("2026-01-01T00:00:00Z", 0), ("2026-01-01T00:00:10Z", 10 ** 9)):
        summary = _summary(t, cpu, {("a", "p"): {"c": (cpu, 1024)}, ("a", "q"): {"c": (cpu, 1024)}})
        summary["pods"][1]["containers"].append({"name": "hollow"})  # no figures
        s.update_node("n1", summary)
    assert s.pod_metrics("a", "p") is not None and s.pod_metrics("a", "q") is None
    s.update_node("n1", _summary("2026-01-01T00:00:20Z", 2 * 10 ** 9, {}))
    assert s.pods() == []
    s.forget_nodes([])
    assert s.nodes() == []


def test_go_duration_strings() -> None:
    assert [go_duration(x) for x in (0, 15.004, 60.5, 3725.25, 0.0015, 2.0, 0.5)] == \
        ["0s", "15.004s", "1m0.5s", "1h2m5.25s", "1.5ms", "2s", "500ms"]
