"""``mkctl set image``: change container images of pods and workload templates with a
strategic merge patch (the two-way diff of before and after, as kubectl computes it), written
with ``fieldManager=kubectl-set``."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import TYPE_CHECKING, Any, cast

from minik8s import errors
from minik8s.cli import common, threeway
from minik8s.cli.scale import scale_targets
from minik8s.cli.session import CliError, Session, Subparsers, format_error

if TYPE_CHECKING:  # annotations only: the views cost mkctl's start ~7 ms (the import budget)
    from minik8s.api import typed


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    s = sub.add_parser("set", parents=[common_flags], help="Set specific features on objects", allow_abbrev=False)
    verbs = s.add_subparsers(dest="set_verb", metavar="SUBCOMMAND", parser_class=type(s))
    s.set_defaults(group_help=s.print_help)
    p = verbs.add_parser("image", parents=[common_flags], allow_abbrev=False,
                         help="Update the image of a pod template")
    p.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME) CONTAINER=IMAGE...")
    common.add_filename_flags(p)
    common.add_selector_flag(p)
    p.add_argument("--all", action="store_true")
    common.add_output_flag(p)
    common.add_dry_run(p)
    common.add_field_manager(p, "kubectl-set")
    p.set_defaults(func=cmd_set_image, needs_loop=False)


def pod_spec_of(obj: dict[str, Any]) -> typed.PodSpec | None:
    """The PodSpec inside a pod (``spec``) or a workload (``spec.template.spec``)."""
    if obj.get("kind") == "Pod":
        return cast("typed.Pod", obj).get("spec")
    spec = obj.get("spec") or {}
    if "jobTemplate" in spec:
        template: typed.PodTemplateSpec | None = (spec["jobTemplate"].get("spec") or {}).get("template")
    else:
        template = spec.get("template")
    return (template or {}).get("spec")


async def cmd_set_image(session: Session, args: argparse.Namespace) -> int:
    resource_args = [a for a in args.args if "=" not in a]
    pairs = [a for a in args.args if "=" in a]
    if not pairs:
        raise CliError("at least one image update is required")
    images = {}
    for pair in pairs:
        name, _, image = pair.partition("=")
        if not name or not image:
            raise CliError(f"invalid image update {pair}: expected CONTAINER=IMAGE")
        images[name] = image
    args.args = resource_args
    failures = 0
    for res, ns, name in await scale_targets(session, args):
        try:
            obj = await session.client.get(res.rt, name, namespace=ns)
            obj.setdefault("apiVersion", res.rt.api_version)
            obj.setdefault("kind", res.rt.kind)
            after = copy.deepcopy(obj)
            spec = pod_spec_of(after)
            if spec is None:
                raise CliError(f"{common.object_ref(res, name)} has no pod template")
            for cname, image in images.items():
                hit = False
                for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                    if cname == "*" or c.get("name") == cname:
                        c["image"] = image
                        hit = True
                if not hit:
                    raise CliError(f'unable to find container named "{cname}"')
            patch, ptype = threeway.patch_for(obj["apiVersion"], obj["kind"], obj, after, obj)
            if not patch:
                continue  # kubectl prints nothing when every image is already what was asked
            if args.dry_run == "client":
                common.print_done(res, after, "image updated", output=args.output, dry_run="client")
                continue
            params = {"fieldManager": args.field_manager, "dryRun": "All" if args.dry_run == "server" else None}
            ctype = "application/strategic-merge-patch+json" if ptype == "strategic" else "application/merge-patch+json"
            resp = await session.client.request("PATCH", res.rt.path(ns, name), params=params,
                                                content=json.dumps(patch, separators=(",", ":")),
                                                headers={"Content-Type": ctype})
            common.print_done(res, resp.json(), "image updated", output=args.output, dry_run=args.dry_run)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0
