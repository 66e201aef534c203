"""A body's delegates to the body above, and campaigns: notices of local struggles that other
bodies pledge support to (signed, carried by gossip, listed on every node). A body may
withdraw its own notice, a campaign or a pledge: the notice stays listed, marked withdrawn,
and a withdrawn campaign takes no more pledges. A withdrawal by anyone else means nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from node.errors import BadInput, Conflict
from node.federation.ballots import now_ms
from node.federation.own_log import none_signed
from node.federation.upward import (
    Upward,
    _me,
    _open,
    _parent,
    _referring,
    _sign,
    held,
    refresh,
)
from node.rules.upward import check_may_act_for_body, check_title_text
from node.storage.members import Member
from protocol import (
    Campaign,
    Delegates,
    Envelope,
    Pledge,
    Withdrawal,
)
from protocol.authority import needs_authority
from protocol.models import TAG_OF


async def record_delegates(node: Upward, who: Member, count: int, names: Sequence[str] = ()) -> Envelope:
    """This body's delegates to its parent: how many, and the names of those who consented."""
    check_may_act_for_body(who)
    body = delegates_body(node, count, names)
    trust = node.federation_state.trust
    if trust is not None and needs_authority(trust.rules, body):
        raise Conflict("in this federation an officers' delegates record needs the members' carried decision on "
                       "it: propose it to them (POST /api/v1/delegates/proposals), or elect the delegates",
                       code="needs_decision")  # fmt: skip
    return await _sign(node, body)


def delegates_body(node: Upward, count: int, names: Sequence[str] = ()) -> Delegates:
    """The officers' delegates record this body would sign (checked as for signing it now)."""
    parent = _parent(node, _me(node))
    if parent is None:
        raise Conflict("this body has no body above it to send delegates to", code="no_parent")
    if not 0 <= count <= 10_000:
        raise BadInput("the number of delegates is 0 to 10000", field="count")
    cleaned = [n.strip() for n in names if n.strip()]
    if len(cleaned) > min(count, 64) or any(len(n) > 200 for n in cleaned):
        raise BadInput("at most one name per delegate (64 at most, 200 characters each)", field="names")
    return Delegates(to=parent, count=count, names=cleaned)


async def own_delegates(node: Upward) -> tuple[bytes | None, Delegates | None]:
    """This body's parent (None: it has none) and its latest delegate record to it."""
    parent = _parent(node, _me(node))
    if parent is None:
        return None, None
    latest = None
    for raw in await node.upward.referring_by(parent, "delegates", _me(node)):
        body = _open(raw).payload.body
        if isinstance(body, Delegates):
            latest = body
    return parent, latest


async def publish_campaign(node: Upward, who: Member, title: str, text: str, asks: str, *, starts: int | None = None,
                           ends: int | None = None, contact: str = "", clock: Callable[[], float] = time.time
                           ) -> Envelope:  # fmt: skip
    check_may_act_for_body(who)
    check_title_text(title, text, max_text=2000)
    begins = starts if starts is not None else now_ms(clock)
    if ends is not None and ends < begins:
        raise BadInput("a campaign ends after it starts", field="ends")
    for name, value in (("asks", asks), ("contact", contact)):
        if len(value) > 2000:
            raise BadInput(f"the {name} is at most 2000 characters", field=name)
    return await _sign(node, Campaign(title=title.strip(), text=text, asks=asks, starts=begins, ends=ends,
                                      contact=contact))  # fmt: skip


async def pledge(node: Upward, who: Member, campaign_id: bytes, text: str) -> Envelope:
    check_may_act_for_body(who)
    campaign = await held(node, campaign_id, Campaign, "campaign")
    if campaign.author == _me(node):
        raise Conflict("a body does not pledge to its own campaign", code="own_campaign")
    if not text.strip() or len(text) > 2000:
        raise BadInput("say what this body pledges (at most 2000 characters)", field="text")
    await refresh(node)
    if await withdrawal_of(node, campaign) is not None:
        raise Conflict("this campaign was withdrawn by the body that published it", code="withdrawn")
    pledged = Conflict("this body has pledged to this campaign already", code="already_pledged")
    if await node.upward.referring_by(campaign_id, "pledge", _me(node)):
        raise pledged
    once = none_signed(_me(node), "pledge", lambda b: isinstance(b, Pledge) and b.campaign == campaign_id, pledged)
    return await node.own_log.append(Pledge(campaign=campaign_id, text=text.strip()), check=once)


async def withdraw(node: Upward, who: Member, notice_id: bytes, reason: str,
                   kind: type[Campaign] | type[Pledge] | None = None) -> Envelope:  # fmt: skip
    """Withdraw this body's own campaign or pledge (signed; once). ``kind`` narrows what
    ``notice_id`` may be (None: either)."""
    check_may_act_for_body(who)
    if len(reason) > 2000:
        raise BadInput("the reason is at most 2000 characters", field="reason")
    kinds = (Campaign, Pledge) if kind is None else (kind,)
    notice = await held(node, notice_id, kinds, " or ".join(TAG_OF[k] for k in kinds))
    if notice.author != _me(node):
        raise Conflict("a body withdraws only its own campaigns and pledges", code="not_ours")
    await refresh(node)
    withdrawn = Conflict(f"this {notice.kind} is withdrawn already", code="already_withdrawn")
    if await withdrawal_of(node, notice) is not None:
        raise withdrawn
    once = none_signed(_me(node), "withdrawal", lambda b: isinstance(b, Withdrawal) and b.notice == notice_id,
                       withdrawn)  # fmt: skip
    return await node.own_log.append(Withdrawal(notice=notice_id, reason=reason.strip()), check=once)


async def withdrawal_of(node: Upward, notice: Envelope) -> Withdrawal | None:
    """The withdrawal of this notice by its own author, if one is held (the first signed)."""
    for raw in await node.upward.referring_by(notice.id, "withdrawal", notice.author):
        body = _open(raw).payload.body
        if isinstance(body, Withdrawal):
            return body
    return None


@dataclass
class Listed:
    """A campaign notice as listed: its pledges, and what of it was withdrawn (by id)."""

    campaign: Envelope
    pledges: list[Envelope]
    withdrawn: dict[bytes, Withdrawal] = field(default_factory=dict)


async def campaigns(node: Upward, limit: int = 100) -> list[Listed]:
    """Campaign notices across the federation, newest first, each with its pledges and the
    withdrawals (by their own authors) of the campaign or of a pledge."""
    await refresh(node)
    out = []
    for raw in await node.envelopes.of_kind("campaign", limit):
        campaign = _open(raw)
        listed = Listed(campaign, await _referring(node, campaign.id, "pledge"))
        for notice in (campaign, *listed.pledges):
            withdrawal = await withdrawal_of(node, notice)
            if withdrawal is not None:
                listed.withdrawn[notice.id] = withdrawal
        out.append(listed)
    return out
