"""apiserver.protobuf: protobuf request bodies (k8s\\x00 + runtime.Unknown) to Kubernetes JSON.

Bodies are built with a tiny encoder below that writes what Go's generated marshalling writes
(every non-pointer scalar, zero or not), plus three bodies the real kubectl 1.32 sent,
kept as bytes. tests/integration/test_kubectl_create.py compares live kubectl bodies with
kubectl's own JSON of the same object.
"""

from __future__ import annotations

import base64
import re
import struct

import pytest

from apiserver import protobuf
from apiserver.protobuf_types import KINDS, MESSAGES, SCALARS, SPECIAL, message_for

# --- a tiny protobuf encoder -------------------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negatives: two's complement, ten bytes, as Go writes them
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vint(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def ld(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def s(number: int, text: str) -> bytes:
    return ld(number, text.encode())


def msg(number: int, *parts: bytes) -> bytes:
    return ld(number, b"".join(parts))


def entry(number: int, k: str, v: bytes | str) -> bytes:
    """A map<string, ...> entry; a str value is a string, bytes are the value's own encoding."""
    value = s(2, v) if isinstance(v, str) else ld(2, v)
    return msg(number, s(1, k), value)


def envelope(api_version: str, kind: str, *parts: bytes, content_type: str = "") -> bytes:
    unknown = msg(1, s(1, api_version), s(2, kind)) + ld(2, b"".join(parts))
    unknown += s(3, "") + s(4, content_type)
    return protobuf.MAGIC + unknown


def object_meta(name: str, *extra: bytes, namespace: str = "") -> bytes:
    # Go writes every string of ObjectMeta, empty or not, and an empty creationTimestamp.
    return msg(1, s(1, name), s(2, ""), s(3, namespace), s(4, ""), s(5, ""), s(6, ""), vint(7, 0),
               ld(8, b""), *extra)


def intstr_int(number: int, value: int) -> bytes:
    return msg(number, vint(1, 0), vint(2, value), s(3, ""))


def intstr_str(number: int, value: str) -> bytes:
    return msg(number, vint(1, 1), vint(2, 0), s(3, value))


def quantity(text: str) -> bytes:
    return s(1, text)


# --- bodies the real kubectl 1.32.5 sent --------------------------------------------------------

KUBECTL_NAMESPACE = bytes.fromhex(
    "6b3873000a0f0a02763112094e616d65737061636512220a1a0a0a666978747572652d6e7312001a0022002a0032"
    "003800420012001a020a001a002200")
KUBECTL_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c7010a290a0377656212001a0a666978747572"
    "652d6e7322002a003200380042005a0a0a036170701203776562128b010803120c0a0a0a0361707012037765621a71"
    "0a1c0a0012001a0022002a003200380042005a0a0a036170701203776562125112330a056e67696e78120a6e67696e"
    "783a312e32352a00320a0a001000185022002a0042006a007200800100880100900100a201001a0032004200"
    "4a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200")
KUBECTL_SECRET = bytes.fromhex(
    "6b3873000a0c0a027631120653656372657412270a1b0a017312001a0a666978747572652d6e7322002a0032003800"
    "420012060a01701201711a001a002200")


def test_kubectl_namespace_body() -> None:
    # `kubectl create namespace fixture-ns`; kubectl's -o json of it is the same minus nulls.
    assert protobuf.decode(KUBECTL_NAMESPACE) == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "fixture-ns"}, "spec": {}, "status": {},
    }


def test_kubectl_deployment_body() -> None:
    # `kubectl create deployment web --image=nginx:1.25 --replicas=3 --port=80 -n fixture-ns`
    assert protobuf.decode(KUBECTL_DEPLOYMENT) == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "fixture-ns", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "nginx", "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}], "resources": {},
                }]},
            },
            "strategy": {},
        },
        "status": {},
    }


def test_kubectl_secret_body() -> None:
    # `kubectl create secret generic s --from-literal=p=q -n fixture-ns`: data is base64, the
    # empty `type` Go wrote is dropped (omitempty), so the server defaults it to Opaque.
    assert protobuf.decode(KUBECTL_SECRET) == {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "fixture-ns"},
        "data": {"p": base64.b64encode(b"q").decode()},
    }


# --- hand-encoded bodies -------------------------------------------------------------------------


def test_zero_scalars_dropped_but_pointer_zeros_kept() -> None:
    body = envelope(
        "apps/v1", "Deployment",
        object_meta("web"),
        msg(2, vint(1, 0), vint(5, 0), vint(6, 0), vint(7, 0),  # replicas 0 (a pointer): kept
            msg(3, msg(2, msg(2, s(1, "c"), s(2, "img"), vint(16, 0))))),
    )
    got = protobuf.decode(body)
    assert got["metadata"] == {"name": "web"}
    assert got["spec"]["replicas"] == 0
    assert got["spec"]["revisionHistoryLimit"] == 0
    assert "minReadySeconds" not in got["spec"] and "paused" not in got["spec"]
    assert got["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "img"}]


def test_pod_spec_inline_structs_intorstring_quantities() -> None:
    probe = msg(10, msg(1, msg(2, s(1, "/healthz"), intstr_str(2, "http"), s(4, "HTTP"))),
                vint(2, 5), vint(4, 10))
    startup = msg(22, msg(1, msg(3, intstr_int(1, 8080))))
    resources = msg(8, entry(1, "cpu", quantity("500m")), entry(2, "memory", quantity("64Mi")))
    container = msg(2, s(1, "app"), s(2, "busybox"), s(3, "sh"), s(3, "-c"),
                    msg(6, s(1, "http"), vint(3, 8080), s(4, "TCP")),
                    msg(7, s(1, "A"), s(2, "")),
                    resources, probe, startup,
                    msg(15, vint(4, 0), vint(5, 1)))  # runAsUser 0 (root) is meaningful
    volumes = (msg(1, s(1, "scratch"), msg(2, msg(2, s(1, "Memory"), msg(2, quantity("1Gi"))))),
               msg(1, s(1, "cfg"), msg(2, msg(19, msg(1, s(1, "my-config")), vint(3, 0o644)))))
    body = envelope("v1", "Pod", object_meta("p", namespace="ns"),
                    msg(2, *volumes, container, vint(4, 0), s(6, "ClusterFirst")))
    got = protobuf.decode(body)
    spec = got["spec"]
    assert spec["volumes"] == [
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
        {"name": "cfg", "configMap": {"name": "my-config", "defaultMode": 0o644}},
    ]
    assert spec["terminationGracePeriodSeconds"] == 0
    (c,) = spec["containers"]
    assert c["command"] == ["sh", "-c"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["env"] == [{"name": "A"}]
    assert c["resources"] == {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}
    assert c["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
        "initialDelaySeconds": 5, "periodSeconds": 10,
    }
    assert c["startupProbe"] == {"tcpSocket": {"port": 8080}}
    assert c["securityContext"] == {"runAsUser": 0, "runAsNonRoot": True}


def test_times() -> None:
    meta = object_meta("e", msg(9, vint(1, 1_700_000_000), vint(2, 123_456_789)))  # deletionTimestamp
    body = envelope("v1", "Event", meta,
                    msg(2, s(1, "Pod"), s(3, "p")),
                    msg(6, vint(1, 0)),  # the Unix epoch is a time, not the zero time
                    ld(7, b""),  # the zero time: Go writes no bytes and prints null
                    msg(10, vint(1, 1_700_000_000), vint(2, 123_456_789)),
                    s(14, ""), s(15, ""))
    got = protobuf.decode(body)
    assert got["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:20Z"
    assert "creationTimestamp" not in got["metadata"]
    assert got["firstTimestamp"] == "1970-01-01T00:00:00Z"
    assert "lastTimestamp" not in got
    assert got["eventTime"] == "2023-11-14T22:13:20.123456Z"
    assert got["involvedObject"] == {"kind": "Pod", "name": "p"}


def test_negative_and_packed_integers() -> None:
    security = msg(14, vint(2, -1), ld(4, varint(1000) + varint(2000)), vint(4, 3000))
    body = envelope("v1", "Pod", object_meta("p"), msg(2, security, vint(5, -5)))
    spec = protobuf.decode(body)["spec"]
    assert spec["activeDeadlineSeconds"] == -5  # validation's job to refuse, not the decoder's
    assert spec["securityContext"] == {"runAsUser": -1, "supplementalGroups": [1000, 2000, 3000]}


def test_maps_bytes_and_entries_without_value() -> None:
    body = envelope("v1", "ConfigMap", object_meta("c", msg(11, s(1, "app"), s(2, "x"))),
                    entry(2, "a", "b"), msg(2, s(1, "empty")),
                    entry(3, "bin", b"\x00\xff"), vint(4, 0))
    got = protobuf.decode(body)
    assert got["metadata"]["labels"] == {"app": "x"}
    assert got["data"] == {"a": "b", "empty": ""}
    assert got["binaryData"] == {"bin": base64.b64encode(b"\x00\xff").decode()}
    assert got["immutable"] is False  # a pointer: an explicit false stays


def test_unknown_field_numbers_are_skipped() -> None:
    unknown = (vint(99, 7) + s(98, "new") + key(97, 1) + struct.pack("<q", 5)
               + key(96, 5) + struct.pack("<i", 6))
    body = envelope("v1", "Namespace", msg(1, s(1, "x"), unknown), unknown)
    assert protobuf.decode(body) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}


def test_repeated_message_field_is_merged() -> None:
    body = envelope("v1", "Namespace", msg(1, s(1, "x")), msg(1, msg(11, s(1, "a"), s(2, "b"))))
    assert protobuf.decode(body)["metadata"] == {"name": "x", "labels": {"a": "b"}}


def test_eviction_keeps_zero_grace_period() -> None:
    body = envelope("policy/v1", "Eviction", object_meta("p1", namespace="default"),
                    msg(2, vint(1, 0), s(4, "")))
    assert protobuf.decode(body) == {
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": "p1", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 0},
    }


def test_token_request() -> None:
    body = envelope("authentication.k8s.io/v1", "TokenRequest", msg(1),
                    msg(2, s(1, "api"), vint(4, 600), msg(3, s(1, "Pod"), s(2, "v1"), s(3, "p"), s(4, "u"))),
                    msg(3, s(1, ""), ld(2, b"")))
    assert protobuf.decode(body) == {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
        "spec": {"audiences": ["api"], "expirationSeconds": 600,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u"}},
        "status": {},
    }


def test_raw_extension_and_fields_v1_carry_json() -> None:
    managed = msg(17, s(1, "kubectl"), s(6, "FieldsV1"), msg(7, ld(1, b'{"f:data":{}}')))
    body = envelope("apps/v1", "ControllerRevision", object_meta("r", managed),
                    msg(2, ld(1, b'{"spec":{"x":1}}')), vint(3, 2))
    got = protobuf.decode(body)
    assert got["metadata"]["managedFields"] == [
        {"manager": "kubectl", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]
    assert got["data"] == {"spec": {"x": 1}}
    assert got["revision"] == 2


def test_json_inside_the_envelope() -> None:
    raw = protobuf.MAGIC + msg(1, s(1, "v1"), s(2, "Namespace")) + ld(2, b'{"metadata":{"name":"j"}}') \
        + s(4, "application/json")
    assert protobuf.decode(raw) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "j"}}


@pytest.mark.parametrize("raw, message", [
    (b'{"kind":"Namespace"}', "prefix"),
    (protobuf.MAGIC + b"\x0a\x05\x0a\x02v1", "past the end"),
    (protobuf.MAGIC + b"\x08\xff", "truncated varint"),
    (protobuf.MAGIC + b"\x08" + b"\xff" * 11 + b"\x01", "longer than 10 bytes"),
    (protobuf.MAGIC + b"\x0b", "wire type 3"),
    (envelope("v1", "Frobnicator", b""), "Frobnicator"),
    (envelope("apps/v1beta1", "Deployment", b""), "Deployment"),
    (protobuf.MAGIC + ld(2, b""), "names no kind"),
    (envelope("v1", "Namespace", vint(1, 3)), "metadata: wire type 0"),
    (envelope("v1", "Service", msg(2, msg(1, msg(4, vint(1, 2))))), "spec.ports[0].targetPort"),
    (envelope("v1", "Namespace", msg(1, msg(8, vint(2, 2_000_000_000)))), "nanos"),
    (envelope("v1", "Namespace", msg(1, msg(8, vint(1, 1 << 62)))), "out of range"),
    (protobuf.MAGIC + msg(1, s(1, "v1"), s(2, "Namespace")) + s(3, "gzip"), "contentEncoding"),
    (protobuf.MAGIC + msg(1, s(1, "v1"), s(2, "Namespace")) + s(4, "application/yaml"), "contentType"),
])
def test_bad_bodies_raise_value_error(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        protobuf.decode(raw)


def test_field_tables_are_complete() -> None:
    for name, fields in MESSAGES.items():
        for number, field in fields.items():
            assert number > 0
            assert field.type in SCALARS | SPECIAL | MESSAGES.keys(), f"{name}.{field.name}: {field.type}"
            assert not (field.inline and (field.repeated or field.map)), name
    for (api_version, kind), message in KINDS.items():
        assert message in MESSAGES, kind
        assert message_for(api_version, kind) == message
    assert message_for("apps/v1", "DeleteOptions") == "DeleteOptions"


def test_persistent_volume_and_storage_class() -> None:
    affinity = msg(9, msg(1, msg(1, msg(1, s(1, "kubernetes.io/hostname"), s(2, "In"), s(3, "node-a")))))
    source = msg(2, msg(3, s(1, "/data/v1"), s(2, "")))  # PersistentVolumeSource, embedded
    spec = msg(2, entry(1, "storage", quantity("1Gi")), source,
               s(3, "ReadWriteOnce"), s(5, "Retain"), s(6, ""), s(8, "Filesystem"), affinity)
    got = protobuf.decode(envelope("v1", "PersistentVolume", object_meta("v1"), spec))
    assert got["spec"] == {
        "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data/v1", "type": ""},
        "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem",
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-a"]}]}]}},
    }
    got = protobuf.decode(envelope("storage.k8s.io/v1", "StorageClass", object_meta("fast"), s(2, "example.com/x"),
                                   entry(3, "speed", "high"), s(4, "Retain"), vint(6, 0),
                                   s(7, "WaitForFirstConsumer")))
    assert {k: got[k] for k in ("provisioner", "parameters", "reclaimPolicy", "allowVolumeExpansion",
                                "volumeBindingMode")} == {
        "provisioner": "example.com/x", "parameters": {"speed": "high"}, "reclaimPolicy": "Retain",
        "allowVolumeExpansion": False, "volumeBindingMode": "WaitForFirstConsumer"}
