"""The audit context: annotations reach the request's event only while one is set, and a key
keeps its first value (Kubernetes' AddAuditAnnotation)."""

from __future__ import annotations

from apiserver.audit import context


def test_annotation_without_context_is_dropped() -> None:
    assert context.current() is None
    context.add_annotation("a/b", "c")  # no audited request: nothing to do, no error


def test_annotations_keep_the_first_value() -> None:
    ctx = context.AuditContext("id-1", 0.0)
    token = context.set_current(ctx)
    try:
        context.add_annotation("pod-security.kubernetes.io/audit-violations", "first")
        context.add_annotation("pod-security.kubernetes.io/audit-violations", "second")
        context.add_annotation("other", "x")
    finally:
        context.reset_current(token)
    assert ctx.annotations == {"pod-security.kubernetes.io/audit-violations": "first", "other": "x"}
    assert context.current() is None


def test_authenticated_calls_back_once_the_user_is_known() -> None:
    ctx = context.AuditContext("id-2", 0.0)
    seen = []
    ctx.on_authenticated = lambda c: seen.append(c.user)
    token = context.set_current(ctx)
    try:
        context.authenticated("alice")
        context.impersonated("bob")
    finally:
        context.reset_current(token)
    assert seen == ["alice"] and ctx.impersonated_user == "bob"
