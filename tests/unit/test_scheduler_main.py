"""The scheduler's flags and the PodScheduled condition it writes."""

from __future__ import annotations

import pytest

from scheduler.main import parse_args
from scheduler.scheduler import _unschedulable_condition


def test_defaults_follow_kube_scheduler():
    cfg = parse_args(["--apiserver", "http://127.0.0.1:6443"])
    assert cfg.leader_elect is True
    assert (cfg.lease_namespace, cfg.lease_name) == ("kube-system", "kube-scheduler")
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (15.0, 10.0, 2.0)
    assert cfg.percentage_of_nodes_to_score == 0
    assert cfg.scheduler_name == "default-scheduler"
    assert cfg.identity and cfg.identity != parse_args(["--apiserver", "http://x"]).identity


@pytest.mark.parametrize("flag,value", [("--leader-elect=false", False), ("--leader-elect", True),
                                        ("--leader-elect=true", True)])
def test_leader_elect_takes_go_style_booleans(flag, value):
    assert parse_args(["--apiserver", "http://x", flag]).leader_elect is value


@pytest.mark.parametrize("argv,named", [
    ([], "--apiserver"),
    (["--apiserver", "http://x", "--kubeconfig", "/k"], "--kubeconfig"),
    (["--apiserver", "http://x", "--percentage-of-nodes-to-score", "101"], "--percentage-of-nodes-to-score"),
    (["--apiserver", "http://x", "--bind-workers", "0"], "--bind-workers"),
    (["--apiserver", "http://x", "--leader-elect-lease-duration", "5"], "--leader-elect-lease-duration"),
])
def test_bad_flags_are_rejected_by_name(argv, named, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert named in capsys.readouterr().err


def test_condition_is_written_only_when_it_changes():
    msg = "0/3 nodes are available: 3 Insufficient cpu."
    pending = {"status": {"phase": "Pending"}}
    cond = _unschedulable_condition(pending, msg)
    assert cond is not None
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "PodScheduled", "False", "Unschedulable", msg)

    carried = {"status": {"conditions": [dict(cond, lastTransitionTime="2026-01-01T00:00:00Z")]}}
    assert _unschedulable_condition(carried, msg) is None
    # A new message keeps the time the pod became unschedulable.
    other = _unschedulable_condition(carried, "0/4 nodes are available: 4 Insufficient cpu.")
    assert other is not None and other["lastTransitionTime"] == "2026-01-01T00:00:00Z"
