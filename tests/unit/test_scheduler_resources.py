"""Pod request computation: sums, the init-container max rule, sidecars, overhead, defaults."""

from __future__ import annotations

from scheduler.resources import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, pod_requests
from tests.unit.scheduler_objects import container

G = 1000 ** 3


def test_containers_are_summed():
    r = pod_requests({"containers": [container(cpu="250m", memory="64Mi"), container(cpu="1", memory="64Mi")]})
    assert r.milli_cpu == 1250
    assert r.memory == 128 * 1024 * 1024


def test_init_containers_count_by_their_maximum():
    # Kubernetes' own example: init 2cpu/1G and 2cpu/3G, containers 2cpu/1G + 1cpu/1G.
    spec = {
        "initContainers": [container("i1", cpu="2", memory="1G"), container("i2", cpu="2", memory="3G")],
        "containers": [container("c1", cpu="2", memory="1G"), container("c2", cpu="1", memory="1G")],
    }
    r = pod_requests(spec)
    assert r.milli_cpu == 3000  # the containers' sum beats any one init container
    assert r.memory == 3 * G  # one init container beats the containers' sum


def test_sidecar_runs_beside_later_init_containers_and_the_app():
    spec = {
        "initContainers": [
            container("sidecar", cpu="1", restart_policy="Always"),
            container("migrate", cpu="3"),
        ],
        "containers": [container("app", cpu="1")],
    }
    # app + sidecar = 2 cpu; migrate runs beside the sidecar: 3 + 1 = 4 cpu.
    assert pod_requests(spec).milli_cpu == 4000


def test_overhead_is_added():
    spec = {"containers": [container(cpu="1")], "overhead": {"cpu": "250m", "memory": "120Mi"}}
    r = pod_requests(spec)
    assert r.milli_cpu == 1250
    assert r.memory == 120 * 1024 * 1024


def test_missing_requests_get_scoring_defaults_only():
    r = pod_requests({"containers": [container(), container(cpu="500m")]})
    assert (r.milli_cpu, r.memory) == (500, 0)
    assert r.non_zero_milli_cpu == DEFAULT_MILLI_CPU_REQUEST + 500
    assert r.non_zero_memory == 2 * DEFAULT_MEMORY_REQUEST
    assert not r.is_zero


def test_explicit_zero_is_not_defaulted():
    r = pod_requests({"containers": [container(cpu="0")]})
    assert r.non_zero_milli_cpu == 0
    assert r.non_zero_memory == DEFAULT_MEMORY_REQUEST
    assert r.is_zero


def test_limit_stands_in_for_a_missing_request():
    c = {"name": "c", "image": "x", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "1"}}}
    r = pod_requests({"containers": [c]})
    assert (r.milli_cpu, r.memory) == (1000, 1024 ** 3)


def test_extended_resources_are_scalars():
    r = pod_requests({"containers": [container(cpu="1", **{"nvidia.com/gpu": "2"})]})
    assert dict(r.scalars) == {"nvidia.com/gpu": 2}
