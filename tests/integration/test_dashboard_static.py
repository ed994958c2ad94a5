"""The web dashboard's static files at ``/ui/`` (no browser, no Docker: the page itself is driven
in Chromium by tests/e2e/test_dashboard_docker.py).

Checked against a real apiserver process: every file of ``apiserver/dashboard/static`` is served
byte for byte with its media type and the page's security headers; ``/ui`` redirects to ``/ui/``;
a name that is not one of those files is a 404 Status (no path reaches the disk); the files are
public (anonymous GET, as the Kubernetes Dashboard serves its assets) while the API behind them
is not, and a wrong token gets 401; other verbs are refused; with ``--anonymous-auth=false``
the files too need credentials.
"""

from __future__ import annotations

from apiserver.dashboard.route import STATIC
from tests.conftest import ApiServer

MEDIA = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}


def test_static_files_served_publicly(apiserver_process: ApiServer) -> None:
    files = sorted(p for p in STATIC.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"index.html", "dashboard.js", "dashboard.css"}
    with apiserver_process.http(anonymous=True) as http:
        for path in files:
            r = http.get(f"/ui/{path.name}")
            assert r.status_code == 200, (path.name, r.text)
            assert r.content == path.read_bytes()
            assert r.headers["content-type"].startswith(MEDIA[path.suffix])
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "default-src 'self'" in r.headers["content-security-policy"]
        index = http.get("/ui/")
        assert index.status_code == 200 and index.content == (STATIC / "index.html").read_bytes()
        # Nothing the page loads comes from another origin.
        assert "http://" not in index.text and "https://" not in index.text

        moved = http.get("/ui")
        assert moved.status_code == 301 and moved.headers["location"] == "/ui/"

        for name in ("nope.js", "../route.py", "static/index.html", "%2e%2e/route.py"):
            r = http.get(f"/ui/{name}")
            assert r.status_code in (401, 403, 404), (name, r.status_code)
            if r.status_code == 404:
                assert r.json()["kind"] == "Status" and r.json()["reason"] == "NotFound"
        assert "def install" not in http.get("/ui/../apiserver/dashboard/route.py").text

        # The API behind the page is not public; a wrong token is 401, not the anonymous user.
        assert http.get("/api/v1/namespaces/default/pods").status_code == 403
        wrong = http.get("/api/v1/pods", headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401 and wrong.json()["reason"] == "Unauthorized"
        # Anonymous may read the files, nothing more on them.
        assert http.post("/ui/index.html", content=b"x").status_code in (403, 405)


def test_static_files_need_credentials_without_anonymous_auth(apiserver_factory) -> None:
    api = apiserver_factory(extra_args=("--anonymous-auth=false",))
    with api.http(anonymous=True) as http:
        r = http.get("/ui/")
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
    with api.http() as http:  # the harness' admin client certificate
        assert http.get("/ui/").status_code == 200
