"""Prometheus metrics (``GET /metrics``), read from the node's live state at scrape time.

Nothing personal: counts of envelopes, peers and members only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node.service import Node

if TYPE_CHECKING:
    from node.gossip.runner import Gossip


class NodeCollector(Collector):
    def __init__(self, node: Node, gossip: Gossip | None, responses: Counter[str] | None = None) -> None:
        self.node = node
        self.gossip = gossip
        self.responses = responses if responses is not None else Counter()

    def collect(self) -> Iterator[Metric]:
        state = self.node.federation_state
        ingest = CounterMetricFamily(
            "branchnet_envelopes", "Envelopes offered by peers, by outcome and reason", labels=["outcome", "code"]
        )
        for name, value in sorted(state.counters.items()):
            outcome, _, code = name.partition(":")
            ingest.add_metric([outcome, code], value)
        yield ingest
        yield GaugeMetricFamily("branchnet_authors", "Authors with a log held here", value=len(state.heads))
        yield GaugeMetricFamily(
            "branchnet_objects", "Envelopes held (sum of log lengths)", value=sum(h.seq for h in state.heads.values())
        )
        yield GaugeMetricFamily("branchnet_quarantine", "Envelopes waiting in quarantine", value=state.quarantined)
        cut = GaugeMetricFamily("branchnet_cut_bodies", "Chartered bodies cut, by reason", labels=["reason"])
        bodies = state.trust.bodies.values() if state.trust else []
        for reason in ("revoked", "retired", "frozen"):
            cut.add_metric([reason], sum(1 for b in bodies if b.cut_reason == reason))
        yield cut
        yield GaugeMetricFamily("branchnet_bodies", "Chartered bodies known", value=len(bodies))
        verifier = state.verifier
        yield GaugeMetricFamily(
            "branchnet_verify_processes",
            "Worker processes checking signatures (0: threads only, until a large batch starts them)",
            value=verifier.workers if verifier.processes_running else 0,
        )
        yield CounterMetricFamily(
            "branchnet_verify_process_batches", "Batches checked in worker processes", value=verifier.process_batches
        )
        answered = CounterMetricFamily(
            "branchnet_http_responses", "HTTP answers by status class (aborted: the client left first)",
            labels=["class"],
        )
        for status_class in ("2xx", "3xx", "4xx", "5xx", "aborted"):
            answered.add_metric([status_class], self.responses[status_class])
        yield answered
        if self.gossip is not None:
            peers = self.gossip.peers.peers.values()
            yield GaugeMetricFamily("branchnet_peers", "Peers known", value=len(peers))
            yield GaugeMetricFamily(
                "branchnet_peers_failing", "Peers backing off after failures", value=sum(1 for p in peers if p.failures)
            )
            lag = GaugeMetricFamily(
                "branchnet_peer_last_ok_seconds", "Seconds since a peer last answered", labels=["peer"]
            )
            for address, seconds in self.gossip.lag().items():
                if seconds is not None:
                    lag.add_metric([address], seconds)
            yield lag
            stats = self.gossip.engine.stats
            rounds = CounterMetricFamily("branchnet_gossip_rounds", "Anti-entropy rounds", labels=["result"])
            rounds.add_metric(["equal"], stats.equal_rounds)
            rounds.add_metric(["different"], stats.rounds - stats.equal_rounds - stats.failures)
            rounds.add_metric(["failed"], stats.failures)
            yield rounds


def metrics_registry(node: Node, gossip: Gossip | None, responses: Counter[str] | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node, gossip, responses))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
