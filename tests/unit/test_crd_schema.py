"""The pure parts of CustomResourceDefinitions: structural-schema rules, value validation,
pruning and defaulting, version priority, printer cells and the CRD's own validation."""

from __future__ import annotations

import pytest

from apiserver.crdschema import crd_validation, pruning, structural, values
from apiserver.registry import customresources as cr
from minik8s import timestamps
from minik8s.api.wellknown import apiextensions


def fields(errs) -> dict[str, str]:
    return {e.field: e.message for e in errs}


OBJ = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "string"},
        "n": {"type": "number", "multipleOf": 0.5, "exclusiveMinimum": True, "minimum": 0},
        "ip": {"type": "string", "format": "ipv4"},
        "when": {"type": "string", "format": "date-time"},
        "m": {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 2},
        "nullable": {"type": "string", "nullable": True},
        "choice": {"type": "object", "oneOf": [{"required": ["x"]}, {"required": ["y"]}],
                   "properties": {"x": {"type": "string"}, "y": {"type": "string"}}},
        "items": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
            "k": {"type": "string", "maxLength": 3}}}},
    }},
}}


def test_values_report_each_field_with_kubernetes_messages():
    obj = {"spec": {"n": 0, "ip": "300.1.1.1", "when": "yesterday", "m": {"a": "x", "b": 1, "c": 2},
                    "nullable": None, "choice": {"x": "1", "y": "2"}, "items": [{"k": "long"}]}}
    got = fields(values.validate(obj, OBJ))
    assert got["spec.a"] == "Required value"
    assert got["spec.n"] == "Invalid value: 0: spec.n in body should be greater than 0"
    assert got["spec.ip"] == 'Invalid value: "300.1.1.1": spec.ip in body must be of type ipv4: "300.1.1.1"'
    assert got["spec.when"].startswith('Invalid value: "yesterday"')
    assert got["spec.m"] == "Too many: 3: must have at most 2 items"
    assert got["spec.m.a"] == 'Invalid value: "string": spec.m.a in body must be of type integer: "string"'
    assert "spec.nullable" not in got
    assert "oneOf" in got["spec.choice"]
    assert got["spec.items[0].k"] == "Too long: may not be more than 3 bytes"
    assert values.validate({"spec": {"a": "x", "n": 1.5, "items": [{}]}}, OBJ) == []
    assert fields(values.validate({"spec": {"a": "x", "n": 1.2, "items": [{}]}}, OBJ))["spec.n"] == \
        "Invalid value: 1.2: spec.n in body should be a multiple of 0.5"
    assert fields(values.validate({"spec": {"a": "x", "items": []}}, OBJ))["spec.items"] == \
        "Invalid value: 0: spec.items in body should have at least 1 items"


def test_pruning_keeps_what_the_schema_or_preserve_unknown_fields_allows():
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "keep": {"type": "string"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "v": {"type": "integer"}}}},
            "emb": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {
                "spec": {"type": "object"}}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
        }}}}
    obj = {"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "x"},
           "spec": {"keep": "y", "drop": 1, "free": {"any": {"thing": 1}},
                    "map": {"k": {"v": 1, "w": 2}}, "emb": {"apiVersion": "v1", "kind": "P", "metadata": {},
                                                           "spec": {}, "other": 1},
                    "list": [{"a": "1", "b": "2"}]}, "extra": True}
    pruned = pruning.prune(obj, schema)
    assert sorted(pruned) == ["extra", "spec.drop", "spec.emb.other", "spec.list[0].b", "spec.map.k.w"]
    assert obj["spec"]["free"] == {"any": {"thing": 1}}
    assert obj["spec"]["emb"] == {"apiVersion": "v1", "kind": "P", "metadata": {}, "spec": {}}
    assert obj["metadata"] == {"name": "x"}


def test_defaults_fill_absent_and_null_fields_and_nest():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
        "r": {"type": "integer", "default": 1},
        "nested": {"type": "object", "default": {"a": "x"}, "properties": {
            "a": {"type": "string"}, "b": {"type": "string", "default": "y"}}},
        "keepnull": {"type": "string", "nullable": True, "default": "z"},
        "dropnull": {"type": "string"},
        "list": {"type": "array", "items": {"type": "object", "properties": {
            "p": {"type": "integer", "default": 80}}}},
    }}}}
    obj = {"spec": {"r": None, "keepnull": None, "dropnull": None, "list": [{}, {"p": 1}]}}
    pruning.default(obj, schema)
    assert obj["spec"] == {"r": 1, "keepnull": None, "nested": {"a": "x", "b": "y"},
                           "list": [{"p": 80}, {"p": 1}]}
    empty: dict = {}
    pruning.default(empty, schema)
    assert empty["spec"]["r"] == 1


@pytest.mark.parametrize("schema, field, message", [
    ({"properties": {"a": {"type": "string"}}}, "s.type", "Required value: must not be empty at the root"),
    ({"type": "string"}, "s.type", 'Invalid value: "string": must be object at the root'),
    ({"type": "object", "properties": {"a": {"type": "array"}}}, "s.properties[a].items",
     "Required value: must be specified"),
    ({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {}}}}},
     "s.properties[a].properties[b].type", "Required value: must not be empty for specified object fields"),
    ({"type": "object", "properties": {"a": {"type": "array", "items": {}}}},
     "s.properties[a].items.type", "Required value: must not be empty for specified array items"),
    ({"type": "object", "properties": {"a": {"type": "object", "allOf": [{"type": "object"}]}}},
     "s.properties[a].allOf[0].type", "Forbidden: must be empty to be structural"),
    ({"type": "object", "properties": {"a": {"type": "string", "x-kubernetes-embedded-resource": True,
                                             "x-kubernetes-preserve-unknown-fields": True}}},
     "s.properties[a].type", 'Invalid value: "string": must be object if x-kubernetes-embedded-resource is true'),
    ({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "labels": {"type": "object"}}}}}, "s.properties[metadata]",
     "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly "
     "specified"),
    ({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"},
                                             "x-kubernetes-list-type": "map"}}},
     "s.properties[a].x-kubernetes-list-map-keys",
     "Required value: must not be empty if x-kubernetes-list-type is map"),
    ({"type": "object", "properties": {"a": {"type": "string", "pattern": "(unclosed"}}},
     "s.properties[a].pattern", None),
    ({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}},
     "s.properties[a].uniqueItems",
     "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"),
    ({"type": "object", "properties": {"a": {"type": "integer", "default": "x"}}}, "s.properties[a].default",
     'Invalid value: "string": in body must be of type integer: "string"'),
])
def test_structural_rules(schema, field, message):
    got = fields(structural.validate_schema(schema, "s"))
    assert field in got, got
    if message is not None:
        assert got[field] == message


def test_a_structural_schema_passes():
    ok = {"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
        "spec": {"type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
            "free": {"x-kubernetes-preserve-unknown-fields": True},
            "choice": {"type": "object", "oneOf": [{"required": ["a"]}], "properties": {"a": {"type": "string"}}},
        }}}}
    assert structural.validate_schema(ok, "s") == []


def test_version_priority_orders_as_kubernetes():
    names = ["v1alpha1", "foo", "v2", "v1", "v1beta1", "v1beta2", "v10", "bar", "v11alpha2"]
    assert sorted(names, key=apiextensions.version_priority) == ["v10", "v2", "v1", "v1beta2", "v1beta1", "v11alpha2",
                                                          "v1alpha1", "bar", "foo"]


def test_printer_cells_follow_column_types():
    p = cr.printer_for([{"name": "N", "type": "integer", "jsonPath": ".spec.n"},
                        {"name": "B", "type": "boolean", "jsonPath": ".spec.b"},
                        {"name": "S", "type": "string", "jsonPath": ".spec.list"},
                        {"name": "Missing", "type": "string", "jsonPath": ".spec.nope"},
                        {"name": "When", "type": "date", "jsonPath": ".metadata.creationTimestamp"}])
    obj = {"metadata": {"name": "x", "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"n": 3.0, "b": True, "list": ["a", "b"]}}
    now = timestamps.to_unix("2026-01-01T00:05:00Z")
    assert p.row(obj, now) == ["x", 3, True, '["a","b"]', None, "5m"]
    assert [c.name for c in cr.printer_for([]).columns] == ["Name", "Age"]


def test_crd_validation_of_versions_and_scale_paths():
    crd = {"metadata": {"name": "ws.g.io"}, "spec": {
        "group": "g.io", "scope": "Namespaced", "names": {"plural": "ws", "singular": "w", "kind": "W",
                                                          "listKind": "WList", "shortNames": ["Bad_Name"]},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}},
                      "subresources": {"scale": {"specReplicasPath": ".status.r", "statusReplicasPath": ""}}},
                     {"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object"}}}],
        "conversion": {"strategy": "Webhook"}}}
    got = fields(crd_validation.validate(crd))
    assert got["spec.versions"].endswith("must have exactly one version marked as storage version") or \
        got["spec.versions"].endswith("must contain unique version names")
    assert got["spec.versions[0].subresources.scale.specReplicasPath"] == \
        'Invalid value: ".status.r": should be a json path under .spec'
    assert got["spec.versions[0].subresources.scale.statusReplicasPath"] == "Required value"
    assert got["spec.names.shortNames[0]"].startswith('Invalid value: "Bad_Name": a DNS-1035 label')
    assert got["spec.conversion.strategy"] == 'Unsupported value: "Webhook": supported values: "None"'


def test_a_schema_may_restrict_the_name_only():
    schema = {"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 5}}}}}
    got = fields(values.validate({"metadata": {"name": "toolong", "labels": {"a": "b"}}}, schema))
    assert got == {"metadata.name": "Too long: may not be more than 5 bytes"}
    assert values.validate({"metadata": {"name": "ok"}}, schema) == []


def test_cel_rules_transition_and_list_map_correlation():
    from apiserver.crdschema import cel

    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                            "x-kubernetes-validations": [{"rule": "self.port >= oldSelf.port",
                                                          "message": "a port may only grow"}]}},
        "name": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self.lowerAscii() == self", "messageExpression": "'not lower: ' + self"}]},
    }}}}
    old = {"spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 90}]}}
    new = {"spec": {"ports": [{"name": "b", "port": 85}, {"name": "a", "port": 81}, {"name": "c", "port": 1}],
                    "name": "Up"}}
    got = fields(cel.validate(new, schema, old))
    assert got == {"spec.ports[0]": 'Invalid value: "object": a port may only grow',
                   "spec.name": 'Invalid value: "string": not lower: Up'}
    assert cel.validate(new | {"spec": {**new["spec"], "name": "up"}}, schema) == []  # a create: no oldSelf
    assert fields(cel.compile_errors({"x-kubernetes-validations": [{"rule": "self >"}]}, "s"))[
        "s.x-kubernetes-validations[0].rule"].startswith('Invalid value: "self >": compilation failed')


def test_reading_applies_defaults_without_changing_the_stored_object():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "r": {"type": "integer", "default": 1}, "keep": {"type": "object", "properties": {"x": {"type": "string"}}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"p": {"type": "integer", "default": 8}}}},
    }}}}
    stored = {"spec": {"keep": {"x": "y"}, "items": [{"p": 1}, {}]}}
    out = pruning.defaulted(stored, schema)
    assert out == {"spec": {"keep": {"x": "y"}, "items": [{"p": 1}, {"p": 8}], "r": 1}}
    assert stored == {"spec": {"keep": {"x": "y"}, "items": [{"p": 1}, {}]}}
    assert out["spec"]["keep"] is stored["spec"]["keep"]
    full = {"spec": {"r": 2, "items": []}}
    assert pruning.defaulted(full, schema) is full
    assert pruning.has_defaults(schema) and not pruning.has_defaults({"type": "object"})


def test_encryption_configuration_names_custom_resources():
    from apiserver.storage import encryption

    groups = {"secrets": "", "configmaps": ""}
    config = [(["widgets.example.com"], ["widgets-key"]), (["*.other.io"], ["other-key"]), (["secrets"], ["s"])]
    providers_for = encryption.for_key(config, groups.get)  # type: ignore[arg-type]
    assert providers_for("/registry/widgets.example.com/default/w") == ["widgets-key"]
    assert providers_for("/registry/gadgets.example.com/default/g") is None
    assert providers_for("/registry/things.other.io/t") == ["other-key"]
    assert providers_for("/registry/secrets/default/s") == ["s"]
    assert providers_for("/registry/configmaps/default/c") is None
