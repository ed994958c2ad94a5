"""The web dashboard (``/ui/``) in headless Chromium (Debian's ``chromium``, driven by
Playwright's Python package through ``executable_path``: no browser is downloaded) against a
cluster on real Docker: apiserver, scheduler, controller-manager and one kubelet.

The page is signed in with a ServiceAccount token from the real ``kubectl create token``; the
account may edit its own namespace and read nodes, namespaces and node metrics, nothing more.
Checked: a wrong token gets "Unauthorized" and no data; the page lists the Deployment and its
pod live; scaling from the page changes the Deployment in the API and the pod rows on the page;
a pod's logs and events; a Service's endpoints; the node's ``top`` figures; restart (the
``kubectl.kubernetes.io/restartedAt`` annotation rolls new pods); deleting a pod; and a
namespace RBAC does not open shows the API's refusal. Screenshots go to the test's tmp dir and
their paths are printed.

The page watches every list it shows over WebSocket: the apiserver's audit log (Metadata level
for the page's namespace, node and event requests) shows its watches of them, no LIST
of either while the page sits idle longer than the 10 s it once polled them at, and a new
namespace and a cordoned node reach the page without a reload, well within that period, and
without any LIST.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiServer, missing, start_control_plane
from tests.kubelet_harness import KubeletProc, remove_node_containers
from tests.minik8s_up_harness import remove_node_network
from tests.waiting import wait_until

pytestmark = pytest.mark.docker

DEADLINE = 90.0


# tests/waiting.py's wait_until, with a browser's deadline
_wait = functools.partial(wait_until, timeout=DEADLINE, interval=0.3)


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        missing("no chromium on this machine (Debian's chromium package; scripts/setup.sh installs it)")
    return path


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright's Python package is not installed (the test extras)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield b
        finally:
            b.close()


# What the page asks of namespaces, nodes and events, at Metadata level: its LISTs and WATCHes.
AUDIT_POLICY = textwrap.dedent("""\
    apiVersion: audit.k8s.io/v1
    kind: Policy
    omitStages: ["RequestReceived"]
    rules:
    - level: Metadata
      userGroups: ["system:serviceaccounts"]
      resources: [{group: "", resources: ["namespaces", "nodes", "events"]}]
    """)


@pytest.fixture
def cluster(apiserver_factory, tmp_path_factory, docker_client, test_images) -> Iterator[tuple[ApiServer, KubeletProc]]:
    base = tmp_path_factory.mktemp("dashboard")
    (base / "audit-policy.yaml").write_text(AUDIT_POLICY)
    api = apiserver_factory(extra_args=("--metric-resolution", "2", "--audit-policy-file", str(base / "audit-policy.yaml"),
                                        "--audit-log-path", str(base / "audit.log")))
    api.audit_log = base / "audit.log"  # type: ignore[attr-defined]
    control_plane = start_control_plane(api, base)
    node = f"dash-{uuid.uuid4().hex[:8]}"
    kubelet = KubeletProc(server=api, node=node, root=base / "root", log_path=base / "kubelet.log",
                          extra_args=["--housekeeping-interval", "1"])
    try:
        kubelet.start()
        yield api, kubelet
    finally:
        control_plane.stop()
        kubelet.stop()
        remove_node_containers(docker_client, node)
        remove_node_network(docker_client, node)


def _manifests(ns: str, image: str) -> str:
    return f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: viewer, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: viewer-edit, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}
subjects: [{{kind: ServiceAccount, name: viewer, namespace: {ns}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {ns}-cluster-reader}}
rules:
- {{apiGroups: [""], resources: [namespaces, nodes], verbs: [get, list, watch]}}
- {{apiGroups: [metrics.k8s.io], resources: [nodes], verbs: [get, list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {ns}-cluster-reader}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {ns}-cluster-reader}}
subjects: [{{kind: ServiceAccount, name: viewer, namespace: {ns}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {image}
        imagePullPolicy: Never
        command: [sh, -c, "echo dashboard-says-hello; exec sleep 3600"]
        ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


def _goto(page: Any, url: str) -> None:
    """Open ``url``; again when Chromium drops the navigation because the machine's network
    interfaces changed (ERR_NETWORK_CHANGED: other tests' containers come and go)."""
    for attempt in range(5):
        try:
            page.goto(url)
            return
        except Exception as e:  # playwright's Error
            if "ERR_NETWORK_CHANGED" not in str(e) or attempt == 4:
                raise
            time.sleep(0.5)


def _rows(page: Any, table: str) -> list[dict[str, str]]:
    """The rows a table shows, each as {column header: cell text} plus its ``name``."""
    return page.evaluate("""(table) => {
        const heads = Array.from(document.querySelectorAll('#' + table + ' thead th')).map(th => th.textContent);
        return Array.from(document.querySelectorAll('#' + table + ' tbody tr')).map(tr => {
            const row = {name: tr.dataset.name};
            Array.from(tr.children).forEach((td, i) => { row[heads[i]] = td.textContent; });
            return row;
        });
    }""", table)


def _page_requests(api: ApiServer, user: str) -> list[tuple[str, str, str]]:
    """(verb, resource, stage) of each audited namespace, node and event request of ``user``."""
    path: Path = api.audit_log  # type: ignore[attr-defined]
    events = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [(e["verb"], e["objectRef"]["resource"], e["stage"]) for e in events
            if e["user"].get("username") == user and e.get("objectRef")]


def _lists(api: ApiServer, user: str) -> int:
    return sum(1 for verb, resource, stage in _page_requests(api, user)
               if verb == "list" and resource in ("namespaces", "nodes") and stage == "ResponseComplete")


def test_dashboard_in_chromium(cluster, browser, kubectl, tmp_path: Path) -> None:
    api, kubelet = cluster
    ns = f"dash-{uuid.uuid4().hex[:6]}"
    shots: list[Path] = []

    def shot(page: Any, name: str) -> None:
        path = tmp_path / f"{len(shots):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
        print(f"screenshot: {path}")

    def k(*args: str, input: str | None = None) -> str:
        p = kubectl(*args, input=input, server=api)
        assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
        return p.stdout

    def api_get(path: str) -> dict:
        with api.http() as http:
            r = http.get(path)
            assert r.status_code == 200, r.text
            return r.json()

    def api_pods() -> list[dict]:
        return [p for p in api_get(f"/api/v1/namespaces/{ns}/pods")["items"]
                if not p["metadata"].get("deletionTimestamp")]

    k("create", "namespace", ns)
    k("apply", "-f", "-", input=_manifests(ns, "minik8s/busybox:latest"))
    token = k("create", "token", "viewer", "-n", ns).strip()
    url = f"{api.url}/ui/#{ns}"

    # The static files are public (they hold no cluster data); the API is not.
    with api.http(anonymous=True) as http:
        page_html = http.get("/ui/")
        assert page_html.status_code == 200 and "text/html" in page_html.headers["content-type"]
        assert 'src="dashboard.js"' in page_html.text
        assert http.get("/ui").status_code == 301
        assert http.get("/ui/../api/v1/pods").status_code in (401, 403, 404)
        assert http.get("/ui/nope.js").status_code == 404
        wrong = http.get(f"/api/v1/namespaces/{ns}/pods", headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401 and wrong.json()["reason"] == "Unauthorized"

    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 1000})
    try:
        # A wrong token: "Unauthorized" and nothing of the cluster.
        page = context.new_page()
        _goto(page, url)
        page.fill("#token", "not-a-token")
        page.click("#signin")
        page.wait_for_function("() => document.getElementById('message').textContent.includes('Unauthorized')")
        assert page.is_hidden("#views")
        assert _rows(page, "pods") == [] and _rows(page, "deployments") == [] and _rows(page, "nodes") == []
        shot(page, "wrong-token")
        page.close()

        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
        _goto(page, url)
        page.fill("#token", token)
        page.click("#signin")
        page.wait_for_function(f"() => document.getElementById('whoami').textContent === 'system:serviceaccount:{ns}:viewer'")

        def running_rows(n: int) -> list[dict[str, str]] | None:
            rows = _rows(page, "pods")
            ok = len(rows) == n and all(r["Status"] == "Running" and r["Node"] == kubelet.node for r in rows)
            return rows if ok else None

        def diag() -> str:
            shot(page, "failure")
            return json.dumps({"message": page.text_content("#message"), "pods": _rows(page, "pods"),
                               "errors": page.eval_on_selector_all(".err", "els => els.map(e => e.textContent)"),
                               "api": [(p["metadata"]["name"], p.get("status")) for p in api_pods()]}, indent=1)[:6000]

        _wait(lambda: running_rows(1), "one Running pod row", diag=diag)
        shot(page, "one-replica")

        # Namespaces and nodes are watched, not polled: the page's watches are open, and while it
        # sits idle for longer than the 10 s it used to poll them at, it lists neither again.
        me = f"system:serviceaccount:{ns}:viewer"
        _wait(lambda: {("watch", "namespaces", "ResponseStarted"), ("watch", "nodes", "ResponseStarted")}
              <= set(_page_requests(api, me)), "the page's watches of namespaces and nodes in the audit log")
        listed = _lists(api, me)
        assert listed >= 2  # each listed once, then watched
        time.sleep(12)
        assert _lists(api, me) == listed, _page_requests(api, me)

        # A change reaches the page through its watch, without a reload, well within the old
        # poll period (the bound is generous; it only says the change did not wait for a poll).
        other = f"{ns}-new"
        k("create", "namespace", other)
        t0 = time.monotonic()
        _wait(lambda: other in page.eval_on_selector_all("#namespace option", "os => os.map(o => o.value)"),
              "the new namespace in the page's namespace list", timeout=7, diag=diag)
        print(f"a new namespace reached the page {time.monotonic() - t0:.2f}s after kubectl returned")
        k("cordon", kubelet.node)
        t0 = time.monotonic()
        _wait(lambda: [r["Status"] for r in _rows(page, "nodes") if r["name"] == kubelet.node] ==
              ["Ready,SchedulingDisabled"], "the cordoned node on the page", timeout=7, diag=diag)
        print(f"a cordoned node reached the page {time.monotonic() - t0:.2f}s after kubectl returned")
        k("uncordon", kubelet.node)
        _wait(lambda: [r["Status"] for r in _rows(page, "nodes") if r["name"] == kubelet.node] == ["Ready"],
              "the uncordoned node on the page", timeout=7, diag=diag)
        assert _lists(api, me) == listed, _page_requests(api, me)
        k("delete", "namespace", other, "--wait=false")

        # Scale from the page: the Deployment's replicas in the API, then three pod rows.
        page.fill('#deployments tr[data-name="web"] input.replicas', "3")
        page.click('#deployments tr[data-name="web"] button[data-action="scale"]')
        _wait(lambda: api_get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")["spec"]["replicas"] == 3,
              "the Deployment scaled to 3 in the API", diag=diag)
        rows = _wait(lambda: running_rows(3), "three Running pod rows")
        assert {r["name"] for r in rows} == {p["metadata"]["name"] for p in api_pods()}
        assert all(r["Restarts"] == "0" and r["Ready"] == "1/1" for r in rows)
        _wait(lambda: [(r["Ready"], r["Rollout"]) for r in _rows(page, "deployments")] == [("3/3", "Complete")],
              "the Deployment row 3/3 Complete")
        assert "scaled" in page.text_content("#message")

        # The Service's endpoints, live: the three pods' IPs on the target port.
        pod_ips = {p["status"]["podIP"] for p in api_pods()}

        def endpoints() -> bool:
            svc = [r for r in _rows(page, "services") if r["name"] == "web"]
            return bool(svc) and {e.rsplit(":", 1)[0] for e in svc[0]["Endpoints"].split(", ")} == pod_ips and \
                all(e.endswith(":8080") for e in svc[0]["Endpoints"].split(", "))
        _wait(endpoints, "the Service row listing the three endpoints")

        # The node's `kubectl top` figures (metrics.k8s.io, polled by the page).
        def node_top() -> dict[str, str] | None:
            rows = [r for r in _rows(page, "nodes") if r["name"] == kubelet.node]
            return rows[0] if rows and re.fullmatch(r"\d+m", rows[0]["CPU(cores)"]) else None
        top = _wait(node_top, "the node's CPU figure", timeout=60)
        assert top["Status"] == "Ready" and re.fullmatch(r"\d+%", top["CPU(%)"])
        assert re.fullmatch(r"\d+Mi", top["Memory(bytes)"]) and re.fullmatch(r"\d+%", top["Memory(%)"])
        shot(page, "scaled-to-three")

        # A pod's logs (followed) and events.
        first = rows[0]["name"]
        page.click(f'#pods tr[data-name="{first}"] button[data-action="details"]')
        page.wait_for_function("() => document.getElementById('logs').textContent.includes('dashboard-says-hello')")
        _wait(lambda: _rows(page, "events"), "the pod's events")
        _wait(lambda: ("watch", "events", "ResponseStarted") in _page_requests(api, me), "the page's watch of the events")
        reasons = {r["Reason"] for r in _rows(page, "events")}
        api_reasons = {e["reason"] for e in api_get(f"/api/v1/namespaces/{ns}/events")["items"]
                       if e["involvedObject"]["name"] == first}
        assert reasons and reasons <= api_reasons
        shot(page, "pod-details")

        # Restart, as `kubectl rollout restart`: the template annotation, then all new pods.
        before = {r["name"] for r in rows}
        page.click('#deployments tr[data-name="web"] button[data-action="restart"]')
        dep = _wait(lambda: (d := api_get(f"/apis/apps/v1/namespaces/{ns}/deployments/web"))["spec"]["template"]
                    ["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/restartedAt") and d,
                    "the restartedAt annotation")
        stamp = dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
        rows = _wait(lambda: (r := running_rows(3)) and not ({x["name"] for x in r} & before) and r,
                     "three new Running pods after the restart", timeout=120)
        _wait(lambda: [r["Rollout"] for r in _rows(page, "deployments")] == ["Complete"], "the rollout Complete")
        shot(page, "restarted")

        # Delete a pod from the page: gone from the API and the page, replaced by the ReplicaSet.
        victim = rows[0]["name"]
        page.click(f'#pods tr[data-name="{victim}"] button[data-action="delete"]')
        _wait(lambda: victim not in {p["metadata"]["name"] for p in api_pods()}, "the pod deleted in the API")
        _wait(lambda: (r := running_rows(3)) and victim not in {x["name"] for x in r}, "the pod replaced on the page")

        # RBAC decides: a namespace the token may not read shows the API's refusal, no rows.
        page.select_option("#namespace", "kube-system")
        page.wait_for_function("() => document.querySelector('.err[data-for=\"pods\"]').textContent.includes('forbidden')")
        assert _rows(page, "pods") == []
        shot(page, "forbidden-namespace")
    finally:
        context.close()
    print("screenshots:", json.dumps([str(p) for p in shots]))
