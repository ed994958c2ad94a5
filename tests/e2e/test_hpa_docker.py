"""A HorizontalPodAutoscaler on real Docker, made by the real ``kubectl autoscale``: a
Deployment whose busybox pods burn a CPU (far above 50% of their 100m request) is scaled up
to the HPA's maximum; once the test tells the pods to stop burning (a file in a hostPath
directory), it is scaled back down after the short scale-down stabilization window the test
sets. The apiserver scrapes every 2 s, the kubelet sweeps every second, the HPA controller
syncs every 2 s; the Deployment and ReplicaSet controllers run in-process. Every wait is
bounded."""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest

from controllers.deployment import DeploymentController
from controllers.horizontalpodautoscaler import HorizontalPodAutoscalerController
from controllers.replicaset import ReplicaSetController
from minik8s.api.resources import DEPLOYMENTS, EVENTS, HORIZONTALPODAUTOSCALERS, NAMESPACES
from tests.e2e.metrics_harness import metrics_cluster  # noqa: F401 - fixture
from tests.integration.controller_harness import running
from tests.kubelet_harness import wait_for

pytestmark = pytest.mark.docker

# Burns a CPU until /ctl/stop exists, then idles.
BURN_UNTIL_STOPPED = "while [ ! -e /ctl/stop ]; do :; done; exec sleep 3600"


async def test_hpa_scales_a_cpu_burning_deployment_up_then_down(metrics_cluster, kubectl, tmp_path) -> None:
    server, kubelet = metrics_cluster
    client = server.client()
    ns = "hpa-e2e"
    try:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        labels = {"app": "burner"}
        await client.create(DEPLOYMENTS, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "burner"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"nodeName": kubelet.node, "terminationGracePeriodSeconds": 1, "containers": [{
                    "name": "burn", "image": "minik8s/busybox:latest", "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", BURN_UNTIL_STOPPED], "resources": {"requests": {"cpu": "100m"}},
                    "volumeMounts": [{"name": "ctl", "mountPath": "/ctl"}]}],
                    "volumes": [{"name": "ctl", "hostPath": {"path": str(tmp_path)}}]}}}}, namespace=ns)
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(running(client, lambda f: ReplicaSetController(client, f)))
            await stack.enter_async_context(running(client, lambda f: DeploymentController(client, f)))
            hpa_ctl = await stack.enter_async_context(running(
                client, lambda f: HorizontalPodAutoscalerController(client, f, sync_period=2.0)))

            made = kubectl("autoscale", "deployment", "burner", "--cpu-percent=50", "--min=1", "--max=2", "-n", ns,
                           server=server)
            assert made.returncode == 0 and "autoscaled" in made.stdout, made.stderr
            # a short scale-down stabilization window, through autoscaling/v2
            patched = kubectl("patch", "hpa", "burner", "-n", ns, "--type=merge", "-p",
                              '{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":5}}}}', server=server)
            assert patched.returncode == 0, patched.stderr

            async def replicas(n: int) -> bool:
                d = await client.get(DEPLOYMENTS, "burner", namespace=ns)
                return d["spec"]["replicas"] == n

            await wait_for(lambda: replicas(2), what="the deployment scaled up to 2", timeout=120)
            hpa = await client.get(HORIZONTALPODAUTOSCALERS, "burner", namespace=ns)
            status = hpa["status"]
            conditions = {c["type"]: c for c in status["conditions"]}
            assert conditions["ScalingActive"]["reason"] == "ValidMetricFound"
            assert conditions["AbleToScale"]["status"] == "True"
            # ~a core against a 100m request: far above the maximum's reach
            assert conditions["ScalingLimited"]["reason"] == "TooManyReplicas"
            assert status["desiredReplicas"] == 2 and status.get("lastScaleTime")
            cpu = status["currentMetrics"][0]["resource"]["current"]
            assert cpu["averageUtilization"] > 100
            shown = kubectl("get", "hpa", "-n", ns, server=server)
            header, row = (re.split(r"\s{2,}", line.strip()) for line in shown.stdout.splitlines()[:2])
            assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
            assert row[:2] == ["burner", "Deployment/burner"] and row[3:5] == ["1", "2"]
            assert re.fullmatch(r"cpu: \d+%/50%", row[2]), row

            (tmp_path / "stop").touch()  # the load stops
            await wait_for(lambda: replicas(1), what="the deployment scaled back down to 1", timeout=120)
            hpa = await client.get(HORIZONTALPODAUTOSCALERS, "burner", namespace=ns)
            assert hpa["status"]["desiredReplicas"] == 1
            assert hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] < 50
            events = (await client.list(EVENTS, namespace=ns))["items"]
            reasons = [e.get("message", "") for e in events if e.get("reason") == "SuccessfulRescale"]
            assert any("New size: 2; reason: cpu resource utilization (percentage of request) above target" in m
                       for m in reasons), reasons
            assert any("New size: 1; reason: All metrics below target" in m for m in reasons), reasons
            assert hpa_ctl.recommendations  # the stabilization history it kept
    finally:
        with contextlib.suppress(Exception):
            await client.delete(NAMESPACES, ns)
        await client.close()
        await asyncio.sleep(0)
