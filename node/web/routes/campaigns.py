"""Routes for a body's delegates to the body above, and for campaigns: notices, pledges of
support, and a body withdrawing its own (node/federation/campaigns.py holds the rules)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from node.federation import authority, upward
from node.federation import campaigns as camp
from node.storage.members import Member
from node.web.common import json_response, node_of, read_json
from node.web.routes.federation import ActView, Appended, proposed_act
from node.web.routes.upward import Time, Title, appended, id_param
from node.web.routing import Route
from protocol import Campaign, Envelope, Pledge, Withdrawal, node_id_text

Words = Annotated[str, Meta(max_length=2000)]


class DelegatesIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    count: Annotated[int, Meta(ge=0, le=10_000)]
    names: Annotated[list[Title], Meta(max_length=64)] = []


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Title
    text: Annotated[str, Meta(min_length=1, max_length=2000)]
    asks: Words = ""
    starts: Time | None = None
    ends: Time | None = None
    contact: Words = ""


class PledgeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, Meta(min_length=1, max_length=2000)]


class WithdrawIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Words = ""


class WithdrawnView(msgspec.Struct):
    """Withdrawn by its own author, with the reason given."""

    reason: str


class PledgeView(msgspec.Struct):
    id: str
    by: str
    by_name: str
    text: str
    created: int
    withdrawn: WithdrawnView | None = None


class CampaignView(msgspec.Struct):
    id: str
    by: str
    by_name: str
    title: str
    text: str
    asks: str
    starts: int
    ends: int | None
    contact: str
    pledges: list[PledgeView]
    withdrawn: WithdrawnView | None = None


async def record_delegates(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, DelegatesIn)
    return appended(await camp.record_delegates(node_of(request), who, body.count, body.names))


async def propose_delegates(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, DelegatesIn)
    row = await authority.propose_delegates(node_of(request), who, body.count, body.names)
    return await proposed_act(request, row.id)


async def publish_campaign(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    b = await read_json(request, CampaignIn)
    return appended(await camp.publish_campaign(node_of(request), who, b.title, b.text, b.asks, starts=b.starts,
                                                  ends=b.ends, contact=b.contact))  # fmt: skip


async def pledge(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, PledgeIn)
    return appended(await camp.pledge(node_of(request), who, id_param(request, "campaign_id"), body.text))


async def withdraw_campaign(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, WithdrawIn)
    notice = id_param(request, "campaign_id")
    return appended(await camp.withdraw(node_of(request), who, notice, body.reason, kind=Campaign))


async def withdraw_pledge(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, WithdrawIn)
    notice = id_param(request, "pledge_id")
    return appended(await camp.withdraw(node_of(request), who, notice, body.reason, kind=Pledge))


def _withdrawn(listed: camp.Listed, notice: Envelope) -> WithdrawnView | None:
    withdrawal: Withdrawal | None = listed.withdrawn.get(notice.id)
    return None if withdrawal is None else WithdrawnView(withdrawal.reason)


def campaign_view(node: upward.Upward, listed: camp.Listed) -> CampaignView:
    campaign = listed.campaign
    c = campaign.payload.body
    assert isinstance(c, Campaign)
    views = []
    for p in listed.pledges:
        assert isinstance(p.payload.body, Pledge)
        views.append(PledgeView(p.id.hex(), node_id_text(p.author), upward.name_of(node, p.author), p.payload.body.text,
                                p.payload.created, _withdrawn(listed, p)))  # fmt: skip
    by = campaign.author
    return CampaignView(campaign.id.hex(), node_id_text(by), upward.name_of(node, by), c.title, c.text, c.asks,
                        c.starts, c.ends, c.contact, views, _withdrawn(listed, campaign))  # fmt: skip


async def list_campaigns(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    return json_response([campaign_view(node, listed) for listed in await camp.campaigns(node)])


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES = (
    Route(
        "POST",
        "/api/v1/delegates",
        record_delegates,
        "officer",
        "Record this body's delegates to the body above (signed)",
        DelegatesIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/delegates/proposals",
        propose_delegates,
        "officer",
        "Put this body's delegates record to its members: a ballot on its text; the node signs it once carried",
        DelegatesIn,
        ActView,
        201,
    ),
    Route(
        "GET",
        "/api/v1/campaigns",
        list_campaigns,
        "member",
        "Campaign notices across the federation, with pledges, and what their authors withdrew",
        response=list[CampaignView],
    ),
    Route(
        "POST",
        "/api/v1/campaigns",
        publish_campaign,
        "officer",
        "Publish a campaign notice (signed)",
        CampaignIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/campaigns/{campaign_id}/pledges",
        pledge,
        "officer",
        "Pledge this body's support (signed)",
        PledgeIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/campaigns/{campaign_id}/withdrawal",
        withdraw_campaign,
        "officer",
        "Withdraw this body's own campaign notice (signed; it takes no more pledges)",
        WithdrawIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/pledges/{pledge_id}/withdrawal",
        withdraw_pledge,
        "officer",
        "Withdraw this body's own pledge (signed)",
        WithdrawIn,
        Appended,
        201,
    ),
)
