"""SelectorSpread score: spread the pods of one controller (ReplicaSet, StatefulSet, Job...)
across nodes and zones.

Pods belong together when they share a controller owner reference. A node with fewer of them
scores higher: ``100 * (max - count) / max`` over the nodes being scored. When nodes carry zone
labels, the zone's count weighs in for two thirds, as Kubernetes' SelectorSpread did. (Kubernetes
1.32 does this job with PodTopologySpread's default constraints; this is the simpler predecessor
with the same intent.) Pods without a controller are not scored by it.
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.framework import MAX_NODE_SCORE, CycleState, NodeInfo, PodInfo

__all__ = ["NAME", "SelectorSpread"]

NAME = "SelectorSpread"

_ZONE_WEIGHTING = 2.0 / 3.0


class SelectorSpread:
    name = NAME

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
        key = pod.spread_key
        if key is None:
            return None
        counts = [node.spread_counts.get(key, 0) for node in nodes]
        max_node = max(counts, default=0)
        zones = [node.zone for node in nodes]
        by_zone: dict[str, int] = {}
        for z, c in zip(zones, counts):
            if z:
                by_zone[z] = by_zone.get(z, 0) + c
        max_zone = max(by_zone.values(), default=0)
        out = []
        for z, c in zip(zones, counts):
            score = float(MAX_NODE_SCORE)
            if max_node > 0:
                score = MAX_NODE_SCORE * ((max_node - c) / max_node)
            if by_zone and z:
                zone_score = float(MAX_NODE_SCORE)
                if max_zone > 0:
                    zone_score = MAX_NODE_SCORE * ((max_zone - by_zone[z]) / max_zone)
                score = score * (1.0 - _ZONE_WEIGHTING) + _ZONE_WEIGHTING * zone_score
            out.append(int(score))
        return out
