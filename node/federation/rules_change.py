"""The federation's rules change by its members (issue 24; docs/federation.md, "Authority").

An officer of the founding body proposes new rules: the node tables an agenda item whose text
is their canonical description (:func:`protocol.authority.rules_text`), weighed by the rules'
own weighting and decided under :func:`protocol.authority.amendment_rules` (two thirds of the
weight voting by default). The children decide and send mandates as on any item; once the
founding body has aggregated it, the node signs the ``rules_change`` citing the aggregate, by
itself (:func:`settle`, run after each aggregate and at each look of the closer): carried under
the amendment rules, the change applies on every node from that envelope on; below them, it is
refused here and nothing is signed (every other node would refuse it too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import aiosqlite
import msgspec

from node.errors import BadInput, Conflict, Forbidden
from node.federation import upward
from node.federation.own_log import none_signed
from node.storage.acts import RuleChangeRow, RuleChangeStore
from node.storage.members import Member
from node.validation import describe
from protocol import DecodeFailure, Envelope, Rules, RulesChange
from protocol.authority import amendment_rules, rules_change_problem, rules_text
from protocol.encoding import encode
from protocol.envelope import check_rules, reopen
from protocol.models import Aggregate

TITLE = "A change of the federation's rules"


class Closing(upward.Upward, Protocol):
    """A node that tables items and signs changes of the rules (``node.service.Node``)."""

    @property
    def rule_changes(self) -> RuleChangeStore: ...


def proposed_rules(current: Rules, changes: dict[str, Any]) -> Rules:
    """``current`` with ``changes`` (field name: new value, in the wire form), checked as every
    node will check the change (BadInput naming the field)."""
    unknown = sorted(set(changes) - set(Rules.__struct_fields__))
    if unknown:
        raise BadInput(f"{unknown[0]!r} is not one of the federation's rules", field=unknown[0])
    try:
        new = msgspec.convert({**msgspec.to_builtins(current), **changes}, Rules)
        check_rules(new)
    except msgspec.ValidationError as exc:
        message, field = describe(exc)
        raise BadInput(message, field=field) from None
    except DecodeFailure as exc:
        raise BadInput(exc.message, field=(exc.field or "rules").removeprefix("body.rules.")) from None
    if new == current:
        raise BadInput("those are the rules in force already", field="rules")
    return new


async def propose(node: Closing, who: Member, changes: dict[str, Any], closes: int,
                  clock: Callable[[], float] = time.time) -> Envelope:  # fmt: skip
    """Put a change of the rules to this (founding) body's children: the agenda item, tabled."""
    state = node.federation_state
    trust = state.trust
    me = state.body(node.own_log.key.public)
    if trust is None or me is None:
        raise Conflict("this node holds no federation yet", code="not_federated")
    if me.parent is not None:
        raise Forbidden("only the founding body puts a change of the federation's rules to its children",
                        code="not_allowed")  # fmt: skip
    new = proposed_rules(trust.rules, changes)
    if new.levels and me.level not in new.levels:
        raise BadInput(f"the founding body's level {me.level!r} stays a level", field="levels")
    spec = upward.NewItem(title=TITLE, text=rules_text(new), closes=closes, weighting=trust.rules.weighting,
                          rules=amendment_rules(trust.rules))  # fmt: skip
    rules = encode(new)

    async def stored(conn: aiosqlite.Connection, item: Envelope) -> None:  # with the item, in its transaction
        await RuleChangeStore.add_in(conn, item.id, rules, who.id)

    return await upward.table_item(node, who, spec, clock, stored)


async def settle(node: Closing) -> int:
    """Every open change whose item this body has aggregated: signed citing the aggregate if it
    stands under the rules in force, else refused with why; once each. Returns how many."""
    done = 0
    for row in await node.rule_changes.open():
        aggregates = await node.upward.referring_by(row.item, "aggregate", node.own_log.key.public)
        if aggregates:
            await _decided(node, row, reopen(aggregates[0]))
            done += 1
    return done


_SIGNED = Conflict("this change of the rules is signed already", code="already_signed")


async def _decided(node: Closing, row: RuleChangeRow, aggregate: Envelope) -> None:
    trust = node.federation_state.trust
    assert trust is not None and isinstance(aggregate.payload.body, Aggregate)
    act = RulesChange(rules=msgspec.msgpack.decode(row.rules, type=Rules), aggregate=aggregate.id)
    item_raw = await node.envelopes.get(aggregate.payload.body.item)
    me = trust.bodies.get(node.own_log.key.public)
    problem = rules_change_problem(act, node.own_log.key.public, aggregate.seq + 1, aggregate,
                                   reopen(item_raw) if item_raw is not None else None, trust.rules,
                                   me is not None and me.parent is None)  # fmt: skip
    if problem is not None:
        await node.rule_changes.settle(row.item, "refused", f"{problem[0]}: {problem[1]}")
        return
    once = none_signed(node.own_log.key.public, "rules_change",
                       lambda b: isinstance(b, RulesChange) and b.aggregate == aggregate.id, _SIGNED)  # fmt: skip
    try:
        signed: Envelope | None = await node.own_log.append(act, check=once)
    except Conflict as exc:
        if exc is not _SIGNED:
            raise
        signed = None  # signed already, by a settle cut short after it: it stands
    await node.rule_changes.settle(row.item, "signed", signed=signed.id if signed is not None else None)


async def aggregate(node: Closing, who: Member, item_id: bytes, clock: Callable[[], float] = time.time) -> Envelope:
    """:func:`node.federation.upward.aggregate`, then the change of the rules it decided, if it
    was one, signed at once (the API, the pages and the CLI aggregate through this)."""
    signed = await upward.aggregate(node, who, item_id, clock)
    await settle(node)
    return signed
