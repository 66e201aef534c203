"""Routes for the federation's rules and the acts that need no vote yet: the rules in force
and each change put to the children (node/federation/rules_change.py), and an officer's
interim freeze of a body below (node/federation/acts.py)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web
from msgspec import Meta

from node.errors import Conflict
from node.federation import acts, rules_change
from node.storage.acts import RuleChangeRow
from node.storage.members import Member
from node.web.common import json_response, node_of, read_json
from node.web.routes.federation import Appended, node_id_field
from node.web.routing import Route
from protocol import node_id_text
from protocol.authority import rules_text
from protocol.models import MAX_TIME_MS, Rules


class RulesProposalIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The rules to change (each by its name in the genesis, in its wire form: a share is
    ``{"num": 1, "den": 3}``) and when the children's mandates close (ms)."""

    changes: Annotated[dict[str, Any], Meta(min_length=1, max_length=16)]
    closes: Annotated[int, Meta(ge=0, le=MAX_TIME_MS)]


class RuleChangeView(msgspec.Struct):
    """A change of the rules put to the children: its agenda item and text, and what became
    of it (open; signed, with the rules_change's id; refused, with why)."""

    item: str
    text: str
    state: str
    why: str = ""
    signed: str | None = None


class Since(msgspec.Struct):
    since: int  # ms: in force for what was signed from then on
    envelope: str  # the genesis, or the rules_change


class FrozenView(msgspec.Struct):
    node_id: str
    name: str
    by: str
    until: int
    reason: str
    freeze: str


class RulesView(msgspec.Struct):
    rules: Rules
    history: list[Since]
    changes: list[RuleChangeView]
    frozen: list[FrozenView]


class FreezeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    node_id: Annotated[str, Meta(max_length=100)]
    days: Annotated[int, Meta(ge=1, le=90)]
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


def _change_view(row: RuleChangeRow) -> RuleChangeView:
    return RuleChangeView(row.item.hex(), rules_text(msgspec.msgpack.decode(row.rules, type=Rules)), row.state,
                          row.why, row.signed.hex() if row.signed else None)  # fmt: skip


async def propose_rules(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, RulesProposalIn)
    node = node_of(request)
    item = await rules_change.propose(node, who, body.changes, body.closes)
    row = await node.rule_changes.get(item.id)
    assert row is not None  # written as it was tabled
    return json_response(_change_view(row), status=201)


async def show_rules(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    trust = node.federation_state.trust
    if trust is None:
        raise Conflict("this node holds no federation yet", code="not_federated")
    frozen = [FrozenView(node_id_text(k), trust.name_of(k) or "", trust.name_of(f.by) or node_id_text(f.by), f.until,
                         f.reason, f.freeze.hex()) for k, f in sorted(trust.frozen.items())]  # fmt: skip
    return json_response(RulesView(trust.rules, [Since(t, i.hex()) for t, i, _ in trust.history],
                                   [_change_view(r) for r in await node.rule_changes.recent()], frozen))  # fmt: skip


async def create_freeze(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, FreezeIn)
    envelope = await acts.freeze(node_of(request), who, node_id_field(body.node_id), body.days, body.reason)
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/rules", show_rules, "member",
          "The federation's rules in force, since when, each change put to the children, and the freezes in force",
          response=RulesView),
    Route("POST", "/api/v1/rules/proposals", propose_rules, "officer",
          "Put a change of the federation's rules to the founding body's children: an agenda item on its text; "
          "the node signs the change once its aggregate is carried under the amendment rules",
          RulesProposalIn, RuleChangeView, 201),
    Route("POST", "/api/v1/freezes", create_freeze, "officer",
          "Freeze a body below at once, from its next envelope, for at most the rules' limit (signed)",
          FreezeIn, Appended, 201),
)
