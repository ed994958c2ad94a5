"""The HTTP face of the apiserver: Kubernetes REST paths → the generic REST storage.

A FastAPI application whose resource routes are plain Starlette endpoints (no per-request
dependency injection on the hot path). It parses the Kubernetes path grammar
(``/api/v1/namespaces/{ns}/{plural}/{name}/{subresource}``, ``/apis/{group}/{version}/...``,
``/watch/`` paths), decodes bodies (JSON, YAML, protobuf), negotiates the answer (JSON or a
meta/v1 Table), hands watches to :mod:`apiserver.watchserve`, and turns every error into a
meta/v1 Status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from apiserver import (
    bodies,
    discovery,
    endpoint_reconciler,
    errors,
    managedfields,
    memory,
    openapi_proto,
    openapi_served,
    params,
    printers,
    rbac_bootstrap,
    version,
    watchserve,
)
from apiserver.admission import plugins as admission_plugins
from apiserver.admission import priority as priority_admission
from apiserver.allocators import ServiceAllocator
from apiserver.auth import policy as auth_policy
from apiserver.auth import request_user, tokenreview
from apiserver.auth.user import USER_KEY
from apiserver.registry import table as registry
from apiserver.registry.table import Entry
from apiserver.responses import JSON, json_response, status_response, wants_table
from apiserver.rest import ListOptions, RestStorage
from apiserver.scope import RequestInfo, parse_path
from apiserver.storage import diskspace
from apiserver.storage import health as storage_health
from apiserver.storage.interface import DiskFull, Storage, Unavailable, ValueTooLarge
from apiserver.storageclass_admission import DefaultStorageClass
from apiserver.subresources import Subresources
from apiserver.watchcache import WatchCache
from minik8s import process
from minik8s.api import resources as rs

log = logging.getLogger(__name__)


class ApiServer:
    """The application state: storage, watch cache, REST storage."""

    def __init__(self, storage: Storage, *, advertise_address: str | None = None, port: int = 6443) -> None:
        self.storage = storage
        self.advertise_address = advertise_address
        self.port = port
        self.cache = WatchCache(storage)
        self.services = ServiceAllocator()
        self.authz = auth_policy.Authorization()
        self.rest = RestStorage(storage, self.cache, hooks={rs.SERVICES: self.services,
                                                            rs.PERSISTENTVOLUMECLAIMS: DefaultStorageClass(self.cache),
                                                            **self.authz.write_hooks()})
        # resources answered, not stored (reviews): type -> handler(request, server, info)
        self.virtual = self.authz.reviews.handlers()
        self.virtual[rs.TOKENREVIEWS] = tokenreview.handle
        # metrics.k8s.io, computed from the kubelets' scraped figures (apiserver/resourcemetrics)
        from apiserver.resourcemetrics import api as metrics_api
        from apiserver.resourcemetrics import scraper as metrics_scraper
        self.resource_metrics = metrics_scraper.Scraper(self)  # main sets its resolution
        self.virtual[rs.NODEMETRICS] = self.virtual[rs.PODMETRICS] = metrics_api.handle
        from apiserver import hpa_v1
        self.virtual[rs.HORIZONTALPODAUTOSCALERS_V1] = hpa_v1.handle  # a view of the v2 objects
        from apiserver.apiservices_autoregister import AutoRegister
        self.apiservices = AutoRegister(self.rest)
        self.rest.admission_chain = admission_plugins.default_chain(self.rest, self.cache)
        self.subresources = Subresources(self.rest)
        from apiserver.apiextensions.controller import CRDController
        self.crds = CRDController(self.rest, self.cache)
        # ServiceAccount tokens (apiserver/serviceaccount_options.py), set by main: what the
        # token subresource issues with, and the bearer-token authenticators (in order)
        self.token_settings: Any = None
        self.token_authenticators: list[Any] = []
        self._trimmer: asyncio.Task[None] | None = None
        # How pods/log and pods/exec reach kubelets (apiserver/kubelet_client.py): set by main
        self.kubelet_client: Any = None
        # Who is in default/kubernetes' Endpoints (--endpoint-reconciler-type; set by main)
        self.endpoint_reconciler_type = "master-count"
        self.endpoints: Any = None
        self.ready = False

    async def start(self) -> None:
        await self.storage.start()
        await storage_health.wait_reachable(self.storage)
        await self.cache.start()
        self.authz.attach(self.cache)
        self.services.rebuild(self.cache.snapshot(rs.SERVICES.plural, "/registry/services/")[0])
        await self._ensure_system_namespaces()
        await rbac_bootstrap.ensure(self.rest)
        await priority_admission.ensure_system_classes(self.rest)
        await self.crds.start()
        if self.advertise_address:
            self.endpoints = endpoint_reconciler.build(
                self.endpoint_reconciler_type, self.rest, self.storage, cluster_ip=self.services.kubernetes_service_ip,
                address=self.advertise_address, port=self.port)
            if self.endpoints is not None:
                await self.endpoints.start()
        self._trimmer = asyncio.create_task(memory.trim_periodically(), name="malloc-trim")
        self.apiservices.start()
        self.resource_metrics.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self._trimmer is not None:
            self._trimmer.cancel()
        await self.resource_metrics.stop()
        await self.apiservices.stop()
        if self.endpoints is not None:
            await self.endpoints.stop()
        await self.crds.stop()
        await self.cache.stop()
        await self.storage.close()

    async def _ensure_system_namespaces(self) -> None:
        entry = registry.lookup("", "v1", "namespaces")
        assert entry is not None
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            try:
                await self.rest.create(entry, None, {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}}, field_manager="kube-apiserver")
            except errors.AlreadyExists:
                pass

    # ---- request plumbing ---------------------------------------------------------------

    async def read_body(self, request: Request) -> Any:
        """The decoded body (None when empty): capped, typed and depth-checked (apiserver/bodies.py)."""
        return bodies.decode(await bodies.read(request), bodies.media_type(request), patch=request.method == "PATCH")

    async def handle(self, request: Request, group: str, version_: str, parts: list[str]) -> Response:
        request_user.set(request.scope.get(USER_KEY))
        try:
            if group and (group, version_) not in _GROUP_VERSIONS and not registry.serves_custom(group, version_):
                raise errors.not_found_path()
            if not parts:
                body = discovery.resource_list_body(group, version_)
                if body is None:
                    raise errors.not_found_path()
                return Response(body, media_type=JSON)
            info = parse_path(group, version_, parts)
            if info is None:
                raise errors.not_found_path()
            response = await self.dispatch(request, info)
            if info.entry.custom is not None and info.entry.custom.warning:  # a deprecated version
                response.raw_headers.append((b"warning", bodies.warning_header([info.entry.custom.warning])))
            return response
        except errors.StatusError as e:
            if e.code >= 500:
                log.error("%s %s: %s", request.method, request.url.path, e.message)
            return status_response(e)
        except DiskFull as e:  # not a bug: the data dir's disk is full (readyz says so too)
            log.error("%s %s: %s", request.method, request.url.path, e)
            return status_response(errors.InsufficientStorage(str(e)))
        except Unavailable as e:  # not a bug: etcd cannot be reached (readyz says so too)
            log.warning("%s %s: %s", request.method, request.url.path, e)
            return status_response(errors.ServiceUnavailable(str(e)))
        except ValueTooLarge as e:  # etcd's request limit, a little above the object's own (bodies.MAX_STORED)
            return status_response(errors.TooLarge(str(e)))
        except Exception:  # a bug: answer InternalError, keep the traceback in the log
            log.exception("internal error serving %s %s", request.method, request.url.path)
            return status_response(errors.InternalError("an error on the server prevented the request "
                                                        "from succeeding"))

    async def dispatch(self, request: Request, info: RequestInfo) -> Response:
        q = request.query_params
        method = request.method
        entry, ns, name, sub = info.entry, info.namespace, info.name, info.subresource
        virtual = self.virtual.get(entry.type)
        if virtual is not None:
            return await virtual(request, self, info)
        if entry.type in self.authz.guarded and method in ("POST", "PUT", "PATCH"):
            await self.cache.wait_current()  # escalation checks see every acknowledged grant
        if entry.type.namespaced and name is not None and ns is None and method != "GET":
            raise errors.not_found_path()
        dry_run = params.dry_run(q, _OPTIONS_KIND.get(method, "CreateOptions"))
        validation = params.field_validation(q)
        if sub is not None and sub not in ("status", "finalize", "approval", "ephemeralcontainers"):
            return await self.subresources.handle(request, self, info)
        manager = managedfields.manager_name(q.get("fieldManager"), request.headers.get("user-agent"))
        # a custom resource answers in the version asked for (stored in its storage version)
        out = _same if entry.custom is None else entry.custom.convert_out
        if method == "GET":
            if name is None or info.watch_path:
                lq = params.list_query(q, watch_path=info.watch_path)
                opts = lq.opts
                if name is not None:  # /watch/.../{name}: a field selector on the name
                    opts.field_selector = ",".join(filter(None, [opts.field_selector, f"metadata.name={name}"]))
                if lq.watch:
                    return await watchserve.watch(self, request, entry, ns, opts, lq)
                listed = await self.rest.list(entry, ns if entry.type.namespaced else None, opts)
                if wants_table(request):
                    return json_response(self.table(request, entry, listed["items"], listed["metadata"]))
                return json_response(out(listed))
            if entry.type.namespaced and ns is None:
                raise errors.not_found_path()
            obj = await self.rest.get(entry, ns, name)
            if wants_table(request):
                return json_response(self.table(request, entry, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}))
            return json_response(out(obj))
        if method == "POST":
            if name is not None:
                raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
            body = await self.read_body(request)
            res = await self.rest.create(entry, ns, body, field_validation=validation, dry_run=dry_run,
                                         field_manager=manager)
            return json_response(out(res.body), res.code, res.warnings)
        if method == "PUT":
            if name is None:
                raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
            body = await self.read_body(request)
            res = await self.rest.update(entry, ns, name, body, subresource=sub, field_validation=validation,
                                         dry_run=dry_run, field_manager=manager)
            return json_response(out(res.body), res.code, res.warnings)
        if method == "PATCH":
            if name is None:
                raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            body = await self.read_body(request)
            if ctype == "application/apply-patch+yaml":
                from apiserver import apply
                res = await apply.server_side_apply(self.rest, entry, ns, name, body,
                                                    field_manager=q.get("fieldManager") or "",
                                                    force=params.flag(q, "force"), subresource=sub,
                                                    field_validation=validation, dry_run=dry_run)
            else:
                res = await self.rest.patch(entry, ns, name, body, ctype, subresource=sub,
                                            field_validation=validation, dry_run=dry_run, field_manager=manager)
            return json_response(out(res.body), res.code, res.warnings)
        if method == "DELETE":
            options = params.delete_options(q, bodies.delete_options(await self.read_body(request)))
            if name is None:
                opts = ListOptions(q.get("labelSelector"), q.get("fieldSelector"))
                return json_response(out(await self.rest.delete_collection(entry, ns, opts, options,
                                                                           dry_run=dry_run)))
            res = await self.rest.delete(entry, ns, name, options, dry_run=dry_run)
            return json_response(out(res.body), res.code)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    def table(self, request: Request, entry: Entry, objs: list[dict[str, Any]], md: dict[str, Any],
              *, with_columns: bool = True) -> dict[str, Any]:
        include = request.query_params.get("includeObject") or "Metadata"
        return printers.table(entry.printer, objs, include_object=include,
                              resource_version=md.get("resourceVersion"), continue_=md.get("continue"),
                              with_columns=with_columns)


def _same(body: Any) -> Any:
    return body


_OPTIONS_KIND = {"PUT": "UpdateOptions", "PATCH": "PatchOptions", "DELETE": "DeleteOptions"}
_GROUP_VERSIONS = {(g, v) for g, vs in discovery.group_versions(registry.TABLE).items() for v in vs}


async def _routing_error(request: Request, exc: Exception) -> Response:
    """A path or method no route serves (outside /api and /apis too) answers a Status, as
    Kubernetes' not-found handler does, instead of FastAPI's {"detail": ...}."""
    code = getattr(exc, "status_code", 500)
    if code == 404:
        return status_response(errors.not_found_path())
    if code == 405:
        return status_response(errors.MethodNotAllowed("the server does not allow this method on the "
                                                       "requested resource"))
    err = errors.StatusError(str(getattr(exc, "detail", "")) or "error")
    err.code = code
    return status_response(err)


def create_app(storage: Storage, *, advertise_address: str | None = None, port: int = 6443) -> FastAPI:
    """``advertise_address``: where pods reach this apiserver (the ``kubernetes`` service's
    endpoint); None keeps that service out."""
    server = ApiServer(storage, advertise_address=advertise_address, port=port)

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        process.tune_gc()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(title="minik8s", lifespan=contextlib.asynccontextmanager(lifespan), docs_url=None,
                  redoc_url=None, openapi_url=None, exception_handlers={HTTPException: _routing_error})
    app.state.server = server

    async def core(request: Request) -> Response:
        parts = request.path_params["rest"].strip("/").split("/")
        if parts[0] != "v1":
            return status_response(errors.not_found_path())
        return await server.handle(request, "", "v1", parts[1:] if parts[1:] != [""] else [])

    async def grouped(request: Request) -> Response:
        parts = request.path_params["rest"].strip("/").split("/")
        if len(parts) == 1:
            body = discovery.group_body(parts[0])
            if body is None:
                return status_response(errors.not_found_path())
            return Response(body, media_type=JSON)
        return await server.handle(request, parts[0], parts[1], [p for p in parts[2:] if p] if len(parts) > 2 else [])

    async def api_root(request: Request) -> Response:
        ctype = discovery.choose_discovery_format(request.headers.get("accept"))
        host = request.url.netloc or "127.0.0.1:6443"
        return Response(discovery.api_body(ctype, server_address=host), media_type=ctype or JSON)

    async def apis_root(request: Request) -> Response:
        ctype = discovery.choose_discovery_format(request.headers.get("accept"))
        return Response(discovery.apis_body(ctype), media_type=ctype or JSON)

    async def version_(request: Request) -> Response:
        return Response(version.version_body(), media_type=JSON)

    async def health(request: Request) -> Response:
        if not server.ready:
            return Response(b"not ready", status_code=503, media_type="text/plain")
        return Response(b"ok", media_type="text/plain")

    async def readyz(request: Request) -> Response:
        full = await diskspace.still_full(server.storage) if server.ready else None
        if full is not None:  # writes would fail: not ready until one succeeds again
            return Response(f"[-]storage failed: {full}\nreadyz check failed\n".encode(), status_code=503,
                            media_type="text/plain")
        down = await storage_health.unhealthy(server.storage) if server.ready else None
        if down is not None:  # as Kubernetes' etcd readiness check
            return Response(f"[-]etcd failed: {down}\nreadyz check failed\n".encode(), status_code=503,
                            media_type="text/plain")
        return await health(request)

    async def openapi_v2(request: Request) -> Response:
        mtype = openapi_proto.wanted(request.headers.get("accept"))
        if mtype is None:  # as kube-openapi: a bare 406 to what it cannot serve
            return Response(status_code=406, headers={"Vary": "Accept"})
        if mtype != JSON:  # kubectl's client-side validation reads the protobuf form
            return Response(openapi_proto.document(), media_type=mtype, headers={"Vary": "Accept"})
        return Response(openapi_served.v2_body(), media_type=JSON, headers={"Vary": "Accept"})

    async def openapi_v3_root(request: Request) -> Response:
        return Response(openapi_served.v3_root_body(), media_type=JSON)

    async def openapi_v3(request: Request) -> Response:
        body = openapi_served.v3_body(request.path_params["gv"].strip("/"))
        if body is None:
            return status_response(errors.not_found_path())
        return Response(body, media_type=JSON)

    app.state.resource_endpoints = {"/api/": core, "/apis/": grouped}
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    r = app.router
    for path, fn in (("/api", api_root), ("/api/", api_root), ("/apis", apis_root), ("/apis/", apis_root),
                     ("/version", version_), ("/version/", version_), ("/healthz", health), ("/livez", health),
                     ("/readyz", readyz), ("/openapi/v2", openapi_v2), ("/openapi/v3", openapi_v3_root),
                     ("/openapi/v3/", openapi_v3_root)):
        r.add_route(path, fn, methods=["GET"])
    r.add_route("/openapi/v3/{gv:path}", openapi_v3, methods=["GET"])
    r.add_route("/api/{rest:path}", core, methods=methods)
    r.add_route("/apis/{rest:path}", grouped, methods=methods)
    from apiserver import exec as exec_
    exec_.install(app)  # the exec WebSocket: FastAPI serves WebSocket scopes, fast_path only HTTP
    watchserve.install(app)  # watch over WebSocket on every resource path (after exec's, before the 404)
    from apiserver.metrics import endpoint as metrics_endpoint
    metrics_endpoint.install(app)  # GET /metrics (Prometheus)
    from apiserver import dashboard
    dashboard.install(app)  # GET /ui/ (the web dashboard's static files)
    return app


def fast_path(app: FastAPI) -> Any:
    """An ASGI app that serves resource paths straight from their endpoints and everything else
    (lifespan, discovery, OpenAPI, health) through FastAPI.

    FastAPI's middleware stack (error, exception, exit-stack middlewares and the router) costs
    about a tenth of a create on these 2-core machines; the resource endpoints catch their own
    errors, so on the hot path it is pure overhead.
    """
    core, grouped = app.state.resource_endpoints["/api/"], app.state.resource_endpoints["/apis/"]

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            endpoint = core if path.startswith("/api/") and len(path) > 5 else \
                grouped if path.startswith("/apis/") and len(path) > 6 else None
            if endpoint is not None:
                scope["path_params"] = {"rest": path[6:] if endpoint is grouped else path[5:]}
                scope["app"] = app
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await app(scope, receive, send)

    return asgi
