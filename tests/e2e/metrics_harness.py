"""What the resource-metrics e2e tests share: an apiserver of their own scraping every 2 s
(``--metric-resolution``) and one kubelet on Docker sweeping every second, so metrics exist
within seconds instead of the defaults' half minute."""

from __future__ import annotations

import uuid

import pytest

from tests.kubelet_harness import KubeletProc, remove_node_containers


@pytest.fixture
def metrics_cluster(apiserver_factory, tmp_path_factory, docker_client, test_images):
    """``(server, kubelet)``; the kubelet's containers are removed afterwards."""
    server = apiserver_factory(extra_args=("--metric-resolution", "2"))
    node = f"mx-{uuid.uuid4().hex[:8]}"
    base = tmp_path_factory.mktemp(node)
    kubelet = KubeletProc(server=server, node=node, root=base / "root", log_path=base / "kubelet.log",
                          extra_args=["--housekeeping-interval", "1"])
    kubelet.start()
    yield server, kubelet
    kubelet.stop()
    remove_node_containers(docker_client, node)
