"""Subresources beyond status: ``pods/binding``, ``pods/eviction``, ``pods/log`` (proxied to the
node's kubelet) and ``{deployments,replicasets}/scale`` (the autoscaling/v1 Scale view).

Each one is a thin adapter over the generic REST storage; the per-kind parts (what binding
changes, what Scale looks like) are the strategy's.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from apiserver import errors, managedfields, params
from apiserver.registry.strategy import BindStrategy, CustomScaleStrategy
from apiserver.responses import json_response
from apiserver.rest import RestStorage
from apiserver.stored import CONFLICT_MSG
from minik8s.api.schema import MODELS

if TYPE_CHECKING:
    from apiserver.scope import RequestInfo, Server

JSON = "application/json"


def _success(code: int = 201) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


class Subresources:
    def __init__(self, rest: RestStorage) -> None:
        self.rest = rest

    async def handle(self, request: Request, server: Server, info: RequestInfo) -> Response:
        sub, method = info.subresource, request.method
        if info.entry.type.namespaced and info.namespace is None:
            raise errors.not_found_path()
        if sub == "binding" and method == "POST":
            return await self.bind(server, info, await server.read_body(request),
                                   dry_run=params.dry_run(request.query_params, "CreateOptions"))
        if sub == "eviction" and method == "POST":
            return await self.evict(server, info, await server.read_body(request))
        if sub == "scale":
            return await self.scale(request, server, info)
        if sub == "log" and method == "GET":
            return await self.log(request, server, info)
        if sub == "token" and method == "POST":
            from apiserver import serviceaccount_token
            return json_response(await serviceaccount_token.create_token(server, info, await server.read_body(request)), 201)
        if sub in ("exec", "attach") and method in ("GET", "POST"):
            from apiserver import exec as exec_
            return await exec_.http(request, server, info)
        if sub == "proxy":
            from apiserver import proxy
            return await proxy.handle(request, server, info)
        if sub == "portforward" and method in ("GET", "POST"):
            from apiserver import portforward
            return await portforward.http(request, server, info)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def bind(self, server: Server, info: RequestInfo, body: Any, *, dry_run: bool = False) -> Response:
        """POST ``pods/{name}/binding``: the binding strategy's update, written through the REST
        storage's guaranteed update (``apiserver/registry/podbinding.py``)."""
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request was in an unknown format")
        entry, name = info.entry, info.name
        assert name is not None
        self.rest.admit_body(entry, body, field_validation="Ignore", warnings=[], model=MODELS[("", "Binding")])
        bname = (body.get("metadata") or {}).get("name")
        if bname and bname != name:
            raise errors.BadRequest(f"the name of the object ({bname}) does not match the name on the URL ({name})")
        binding = entry.subresource("binding")
        assert binding is not None  # routed here only for pods
        strategy = cast(BindStrategy, binding.strategy)

        def assign(pod: dict[str, Any]) -> dict[str, Any]:
            try:
                return strategy.bind(pod, body)
            except ValueError as e:
                raise errors.Conflict.of(entry.type, name, str(e)) from None
        await self.rest.guaranteed_update(entry, info.namespace, name, assign, subresource="binding",
                                          uid=(body.get("metadata") or {}).get("uid"), dry_run=dry_run)
        return json_response(_success(), 201)

    async def evict(self, server: Server, info: RequestInfo, body: Any) -> Response:
        assert info.name is not None
        from apiserver import eviction
        options = (body or {}).get("deleteOptions") or {} if isinstance(body, dict) else {}
        await eviction.evict(self.rest, info.entry, info.namespace, info.name, options)
        return json_response(_success(), 201)

    async def scale(self, request: Request, server: Server, info: RequestInfo) -> Response:
        entry, ns, name = info.entry, info.namespace, info.name
        assert name is not None
        # Routed here only for the kinds the table (or a CRD) gives a scale subresource.
        strategy = cast(CustomScaleStrategy, entry.strategy)
        scale_model = MODELS[("autoscaling", "Scale")]
        q = request.query_params
        validation = q.get("fieldValidation") or "Warn"
        dry_run = q.get("dryRun") == "All"
        manager = managedfields.manager_name(q.get("fieldManager"), request.headers.get("user-agent"))

        def unview(current: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]:
            if entry.custom is not None:  # the CRD names where the replicas are
                return strategy.unscale(current, scale)
            new = copy.deepcopy(current)
            new.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
            return new

        if request.method == "GET":
            return json_response(strategy.scale(await self.rest.get(entry, ns, name)))
        if request.method == "PUT":
            body = await server.read_body(request)
            scale = self.rest.admit_body(entry, body, field_validation=validation, warnings=[], model=scale_model)
            current = await self.rest.get(entry, ns, name)
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise errors.Conflict.of(entry.type, name, CONFLICT_MSG)
            res = await self.rest.write_update(entry, ns, name, current, unview(current, scale),
                                                subresource=None, dry_run=dry_run, field_manager=manager,
                                                fields_subresource="scale")
            return json_response(strategy.scale(res.body))
        if request.method == "PATCH":
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            body = await server.read_body(request)
            res = await self.rest.patch(entry, ns, name, body, ctype, field_validation=validation, dry_run=dry_run,
                                        view=strategy.scale, unview=unview, view_model=scale_model,
                                        field_manager=manager, fields_subresource="scale")
            return json_response(strategy.scale(res.body))
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def log(self, request: Request, server: Server, info: RequestInfo) -> Response:
        """Stream the container's log from the kubelet of the pod's node."""
        assert info.name is not None
        pod = await self.rest.get(info.entry, info.namespace, info.name)
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        inits = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
        q = request.query_params
        container = q.get("container")
        if not container:
            if len(containers) != 1:
                raise errors.BadRequest(f"a container name must be specified for pod {info.name}, choose one of: "
                                        f"{containers}" + (f" or one of the init containers: {inits}" if inits else ""))
            container = containers[0]
        elif container not in containers + inits:
            raise errors.BadRequest(f"container {container} is not valid for pod {info.name}")
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.BadRequest(f'pod {info.name} does not have a host assigned')
        from apiserver import kubelet_client
        ep = await kubelet_client.endpoint(self.rest, node_name)
        kubelets = server.kubelet_client
        if kubelets is None:
            raise errors.ServiceUnavailable("this apiserver has no credentials for kubelets")
        params = {k: v for k, v in q.items() if k in ("follow", "tailLines", "previous", "timestamps",
                                                        "sinceSeconds", "sinceTime", "limitBytes")}
        url = ep.url(f"/containerLogs/{info.namespace}/{info.name}/{container}")
        try:
            req = kubelets.http.build_request("GET", url, params=params)
            resp = await kubelets.http.send(req, stream=True)
        except httpx.HTTPError as e:
            raise kubelets.unreachable(ep, e) from None
        if resp.status_code != 200:
            body = await resp.aread()
            await resp.aclose()
            try:
                st = orjson.loads(body)
                return Response(body, status_code=resp.status_code, media_type=JSON) if st.get("kind") == "Status" \
                    else Response(body, status_code=resp.status_code)
            except orjson.JSONDecodeError:
                raise errors.BadRequest(body.decode(errors="replace").strip()) from None

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in resp.aiter_raw():
                    yield chunk
            finally:
                await resp.aclose()

        return StreamingResponse(relay(), media_type="text/plain")
