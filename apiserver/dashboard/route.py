"""``GET /ui/...``: the dashboard's static files (HTML, CSS, JavaScript) from ``static/`` beside
this module, read once at start-up; nothing is fetched from elsewhere (no CDN, no build step).

The files carry no cluster data, so, as the Kubernetes Dashboard serves its assets, they are
public: the authorizer's :class:`~apiserver.auth.authorize.PublicPaths` lets anyone (anonymous
included) GET ``/ui`` and below. Everything the page shows comes from API calls the page makes
with the bearer token the user types in, so authentication and RBAC decide what a user sees
and may do. With ``--anonymous-auth=false`` the files too need credentials (a browser with the
cluster's client certificate), exactly as every other path then does.

``/ui`` redirects to ``/ui/`` so the page's relative asset URLs resolve under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from apiserver import errors
from apiserver.responses import status_response

__all__ = ["install"]

STATIC = Path(__file__).with_name("static")
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
# The page talks only to this origin; no inline script, no framing by other sites.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer"}


def load(root: Path = STATIC) -> dict[str, tuple[bytes, str]]:
    """Every file under ``root`` by its name relative to ``/ui/`` (``""`` is index.html)."""
    files: dict[str, tuple[bytes, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in _TYPES:
            files[path.relative_to(root).as_posix()] = (path.read_bytes(), _TYPES[path.suffix])
    if "index.html" in files:
        files[""] = files["index.html"]
    return files


def install(app: Any) -> None:
    """Route ``/ui`` and ``/ui/{path}`` on ``app``."""
    files = load()

    async def redirect(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=301)

    async def serve(request: Request) -> Response:
        # Only names read at start-up are answered: no path from the request reaches the disk.
        found = files.get(request.path_params["path"])
        if found is None:
            return status_response(errors.not_found_path())
        body, media_type = found
        return Response(body, media_type=media_type, headers=_HEADERS)

    app.router.add_route("/ui", redirect, methods=["GET"])
    app.router.add_route("/ui/{path:path}", serve, methods=["GET"])
