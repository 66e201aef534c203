"""Pages for elections: standing as a delegate (a member's own consent), an officer opening
the branch's delegate election, the selections held, and one selection (stand, nominate,
fix the paper, open the branch's ballot, count), with each result's rounds as a table and a
chart and this node's recount.

Every action calls node/federation/elections.py, as the API and the CLI do."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from aiohttp import web

from node.errors import BadInput, NodeError
from node.federation import consents, participations
from node.federation import elections as el
from node.federation.upward import ancestors, name_of
from node.rules.member_keys import site_of
from node.validation import whole_number
from node.web.common import node_of
from node.web.pages.account import form_error
from node.web.pages.common import Page, read_form, redirect, render, signed_from, text, who_of
from node.web.pages.upward import _hex_id, _parse_time, _when_ms
from node.web.routes.elections import report_of
from protocol import Delegates, Selection, open_envelope

BUNDLES_LISTED = 50  # a selection with more branch bundles lists only those not counted

NOTICES = {"stood": "You stand: your statement is what members will read.", "withdrawn": "You no longer stand.",
           "election": "The election is open: members rank the candidates on its ballot.",
           "selection": "The selection is published to every body.", "nominated": "The nomination is signed.",
           "paper": "The ballot paper is fixed and published.",
           "result": "The result is signed and published."}  # fmt: skip


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("done", ""))


async def _elections_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    node, who = node_of(request), who_of(request)
    above = ancestors(node, node.own_log.key.public)
    parent = above[0] if above else None
    contest = el.DELEGATES + parent.hex() if parent else ""
    standing = await node.candidacies.of(contest) if parent else []
    selections = []
    for e in await el.selections(node):
        s = e.payload.body
        assert isinstance(s, Selection)
        selections.append({"id": e.id.hex(), "by": name_of(node, e.author), "office": s.office, "seats": s.seats,
                           "nominations_close": _when_ms(s.nominations_close),
                           "voting_close": _when_ms(s.voting_close)})  # fmt: skip
    trust = node.federation_state.trust
    me = node.own_log.key.public
    has_children = any(b.parent == me and b.cut is None for b in (trust.bodies.values() if trust else []))
    holding = None  # who holds the post now: this body's latest delegates record to its parent
    if parent is not None:
        for raw in await node.envelopes.own_of_kind(me, "delegates", 50):
            record = open_envelope(raw)
            body = record.payload.body
            if isinstance(body, Delegates) and body.to == parent:
                holding = {"names": body.names, "count": body.count, "since": _when_ms(record.payload.created),
                           "election": body.election.hex() if body.election else None}  # fmt: skip
                break
    return {"parent": name_of(node, parent) if parent else None, "contest": contest, "standing": standing,
            "holding": holding,
            "mine": next((c for c in standing if c.member_id == who.id), None), "selections": selections,
            "has_children": has_children, "values": {"name": who.name, "statement": ""},
            "notice": _notice(request), **extra}  # fmt: skip


async def elections_page(request: web.Request) -> web.StreamResponse:
    return render(request, "elections.html", await _elections_context(request))


async def elections_action(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who = node_of(request), who_of(request)
    action = request.match_info["action"]
    values = {k: text(form, k) for k in ("name", "statement")}
    try:
        above = ancestors(node, node.own_log.key.public)
        contest = el.DELEGATES + above[0].hex() if above else ""
        if action == "stand":
            await el.stand(node, who, contest, values["name"], values["statement"].replace("\r\n", "\n"))
            return redirect("/elections?done=stood")
        if action == "withdraw":
            await el.withdraw(node, who, contest)
            return redirect("/elections?done=withdrawn")
        if action == "open":
            if not above:
                raise BadInput("this body has no body above it to send delegates to", field="seats")
            closes = _parse_time(text(form, "closes"), "closes") if text(form, "closes") else None
            row = await el.open_delegate_election(node, who, above[0], _seats(text(form, "seats")),
                                                  counting=text(form, "counting") or "stv", closes=closes)  # fmt: skip
            return redirect(f"/ballots/{row.id}?done=ballot")
        if action == "select":
            envelope = await el.publish_selection(
                node, who, text(form, "office"), _seats(text(form, "selection_seats"), "selection_seats"),
                method=text(form, "method") or "stv",
                nominations_close=_parse_time(text(form, "nominations_close"), "nominations_close"),
                voting_close=_parse_time(text(form, "voting_close"), "voting_close"),
                balancing=text(form, "balancing"), text=text(form, "text"))  # fmt: skip
            return redirect(f"/selections/{envelope.id.hex()}?done=selection")
        raise BadInput("no such step")
    except NodeError as exc:
        context = await _elections_context(request)
        context["values"] = values
        return form_error(request, "elections.html", exc, context)


def _seats(value: str, field: str = "seats") -> int:
    seats = whole_number(value, 1, 15)
    if seats is None:
        raise BadInput("the seats are a number from 1 to 15", field=field)
    return seats


async def _selection_context(request: web.Request, selection_id: bytes, **extra: Any) -> dict[str, Any]:
    node, who = node_of(request), who_of(request)
    v = await el.selection_view(node, selection_id)
    shown = report_of(node, v)
    me = node.own_log.key.public
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    s = v.selection
    above = ancestors(node, me)
    child = bool(above) and above[0] == v.envelope.author
    contest = el.SELECTION + selection_id.hex()
    standing = await node.candidacies.of(contest) if child else []
    ballot = await node.ballots.for_selection(selection_id)
    results = [{"r": r, "chart": chart_of(r)} for r in shown.results]
    held = await node.member_keys.of(who.id)  # one read: whose consents are theirs, and what signs
    my_keys = {r.key_id.hex(): r.label or ("passkey" if r.key.passkey else "key file") for r in held}
    passkeys = [r.credential for r in held if r.credential and r.revoked_at is None]
    signing = None
    if child and now <= s.nominations_close and passkeys:  # the consent a passkey signs as they stand
        with contextlib.suppress(NodeError):  # no site name: no passkey signs here
            signing = {"prefix": consents.prefix(node, contest).hex(), "rp": site_of(node.config).rp_id,
                       "credentials": " ".join(participations.b64url(c) for c in passkeys)}  # fmt: skip
    trust = node.federation_state.trust
    required = trust is not None and trust.rules.signed_consent
    # A national selection has a bundle from each of hundreds of branches: the page lists them
    # all only when they are few (a phone on a slow connection), else those not counted.
    listed = shown.bundles if len(shown.bundles) <= BUNDLES_LISTED else [b for b in shown.bundles if not b.counts]
    total = {"bundles": len(shown.bundles), "ballots": sum(b.ballots for b in shown.bundles),
             "not_counted": sum(1 for b in shown.bundles if not b.counts)}  # fmt: skip
    return {"s": shown.selection, "shown": shown, "results": results, "ours": v.envelope.author == me,
            "my_keys": my_keys, "signing": signing, "consent_required": required, "bundles_listed": listed,
            "bundle_total": total,
            "child": child, "nominations_open": now <= s.nominations_close, "voting_open": now < s.voting_close,
            "standing": standing, "mine": next((c for c in standing if c.member_id == who.id), None),
            "ballot": ballot, "nominations_close": _when_ms(s.nominations_close),
            "voting_close": _when_ms(s.voting_close), "values": {"name": who.name, "statement": "", "category": ""},
            "notice": _notice(request), **extra}  # fmt: skip


def chart_of(result: Any) -> dict[str, Any]:
    """The last round drawn as bars (an SVG: no inline styles under the page's policy), with
    the quota marked; the table beside it holds every figure."""
    last = result.rounds[-1] if result.rounds else None
    if last is None:
        return {"bars": [], "height": 0, "quota_x": None}
    values = {name: float(v) for name, v in last.votes.items()}
    top = max([*values.values(), float(result.quota or 0), 1.0])
    width = 300
    bars = [{"name": name, "value": last.votes[name], "y": 8 + i * 28, "w": round(v / top * width, 1),
             "elected": name in result.winners} for i, (name, v) in enumerate(values.items())]  # fmt: skip
    quota = float(result.quota or 0)
    quota_x = round(160 + quota / top * width, 1) if quota else None
    return {"bars": bars, "height": 16 + len(bars) * 28, "quota_x": quota_x}


async def selection_page(request: web.Request) -> web.StreamResponse:
    return render(request, "selection.html", await _selection_context(request, _hex_id(request, "selection_id")))


async def selection_action(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who = node_of(request), who_of(request)
    selection_id = _hex_id(request, "selection_id")
    action = request.match_info["action"]
    here = f"/selections/{selection_id.hex()}"
    values = {k: text(form, k) for k in ("name", "statement", "category")}
    try:
        contest = el.SELECTION + selection_id.hex()
        if action == "stand":
            await el.stand(node, who, contest, values["name"], values["statement"].replace("\r\n", "\n"),
                           values["category"], consent=signed_from(form, "consent"))  # fmt: skip
            return redirect(f"{here}?done=stood")
        if action == "withdraw":
            await el.withdraw(node, who, contest)
            return redirect(f"{here}?done=withdrawn")
        if action == "nominate":
            member = whole_number(text(form, "member"), 1, 2**63 - 1)
            if member is None:
                raise BadInput("choose a member who stands")  # a hidden field: said at the top
            await el.nominate(node, who, selection_id, member)
            return redirect(f"{here}?done=nominated")
        if action == "paper":
            await el.publish_paper(node, who, selection_id)
            return redirect(f"{here}?done=paper")
        if action == "ballot":
            row = await el.open_selection_ballot(node, who, selection_id)
            return redirect(f"/ballots/{row.id}?done=ballot")
        if action == "result":
            await el.publish_result(node, who, selection_id)
            return redirect(f"{here}?done=result")
        raise BadInput("no such step")
    except NodeError as exc:
        context = await _selection_context(request, selection_id)
        context["values"] = values
        return form_error(request, "selection.html", exc, context)


PAGES = [
    Page("GET", "/elections", elections_page, "member"),
    Page("POST", "/elections/do/{action}", elections_action, "member"),
    Page("GET", "/selections/{selection_id}", selection_page, "member"),
    Page("POST", "/selections/{selection_id}/{action}", selection_action, "member"),
]
