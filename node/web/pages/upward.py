"""Pages for decisions going up: the agenda (questions of this body and the bodies above it,
submissions to this body, composites and their answers), one question with every child's
mandate judged and each aggregate recounted, and campaign notices with their pledges.

Every action calls node/federation/upward.py, as the API and the CLI do."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from node.errors import BadInput, NodeError, NotFound
from node.federation import authority, rules_change, upward
from node.federation import campaigns as camp
from node.federation import items as on_item
from node.federation import submissions as subm
from node.federation.upward import NewItem
from node.validation import whole_number
from node.web.common import node_of
from node.web.pages.account import form_error
from node.web.pages.common import Page, read_form, redirect, render, text, who_of
from protocol import AgendaItem, Campaign, Decision, Mandate, Pledge, node_id_text, open_envelope
from protocol import upward as up
from protocol.envelope import reopen

NOTICES = {"tabled": "The question is on the agenda.", "ruled-out": "Ruled out.", "composite": "Composite proposed: "
           "each source body now answers it.", "answered": "Your answer is signed and sent.",
           "ballot": "The ballot is open.", "mandate": "The mandate is signed and sent.",
           "aggregate": "The aggregate is signed and published.", "campaign": "The campaign notice is published.",
           "pledged": "Your pledge is published.", "withdrawn": "Withdrawn: every node will show it so.",
           "submitted": "The motion is submitted upward.",
           "delegates": "Our delegates are recorded and sent."}  # fmt: skip
WEIGHTINGS = {"card_vote": "card vote (each child's roll)", "one_branch_one_vote": "one branch, one vote",
              "delegates": "delegates (each child's delegate count)"}  # fmt: skip
POSITIONS = {"follow": "Follow our decision (for, against or abstain)", "split": "A split card vote, as our ballot "
             "came out", "free": "A free vote (our delegates vote as they wish)"}  # fmt: skip
REASONS = {up.NOT_A_CHILD: "not a direct child", up.EARLY: "before the item opened", up.LATE: "after the deadline",
           up.BAD_REPLACEMENT: "does not cite the mandate it replaces", up.NO_BASIS: "its decision is not held",
           up.NOT_ITS_OWN: "cites another body's decision", up.OTHER_MOTION: "its decision is on another text",
           up.NOT_FOLLOWING: "does not follow its decision"}  # fmt: skip


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("done", ""))


def _hex_id(request: web.Request, name: str) -> bytes:
    raw = request.match_info[name]
    try:
        if len(raw) == 64:
            return bytes.fromhex(raw)
    except ValueError:
        pass
    raise NotFound(f"no such {name.removesuffix('_id')}")


def _when_ms(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _parse_time(value: str, field: str) -> int:
    """A date and time from a form (``2026-12-01T18:00``, read as UTC) in ms."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput("give a date and time (UTC)", field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def _item_row(node: upward.Upward, envelope: Any) -> dict[str, Any]:
    b = envelope.payload.body
    assert isinstance(b, AgendaItem)
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    state = "open" if b.opens <= now <= b.closes else ("closed" if now > b.closes else "not open yet")
    return {"id": envelope.id.hex(), "title": b.title, "by": upward.name_of(node, envelope.author),
            "closes": _when_ms(b.closes), "weighting": WEIGHTINGS[b.weighting], "state": state}  # fmt: skip


async def _agenda_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    node = node_of(request)
    agenda = await upward.agenda(node)
    items = [_item_row(node, e) for e in agenda]
    tabled = {e.payload.body.composite: e.id.hex() for e in agenda
              if isinstance(e.payload.body, AgendaItem) and e.payload.body.composite is not None}  # fmt: skip
    submissions = [{"id": s.envelope.id.hex(), "title": s.body.title, "text": s.body.text, "state": s.state,
                    "note": s.note, "by": upward.name_of(node, s.envelope.author)}
                   for s in await subm.submissions(node)]  # fmt: skip
    composites = []
    for c in await subm.composites(node):
        sources = await node.upward.many(c.body.sources)
        rows = []
        for source in c.body.sources:
            raw = sources.get(source)
            author = reopen(raw).author if raw is not None else None
            rows.append({"by": upward.name_of(node, author) if author else source.hex()[:16],
                         "answer": c.answers.get(source, "no answer yet")})  # fmt: skip
        composites.append({"id": c.envelope.id.hex(), "title": c.body.title, "text": c.body.text, "sources": rows,
                           "ours": c.ours is not None, "mine": c.envelope.author == node.own_log.key.public,
                           "our_answer": c.answers.get(c.ours) if c.ours else None,
                           "tabled": tabled.get(c.envelope.id),
                           "all_consent": all(r["answer"] == "consent" for r in rows)})  # fmt: skip
    parent, delegates = await camp.own_delegates(node)
    shown = []
    if delegates is not None:
        shown = [*delegates.names, *(f"delegate {i}" for i in range(len(delegates.names) + 1, delegates.count + 1))]
    values = {"title": "", "text": "", "closes": "", "weighting": "", "source": "", "count": "", "names": ""}
    trust = node.federation_state.trust
    return {"delegates_by_vote": trust is not None and "officers_delegates" in (trust.rules.authority or []),
            "items": items, "submissions": submissions, "composites": composites, "weightings": WEIGHTINGS,
            "values": values, "parent_name": upward.name_of(node, parent) if parent else None,
            "delegates": delegates, "delegates_shown": shown, "notice": _notice(request), **extra}  # fmt: skip


async def agenda_page(request: web.Request) -> web.StreamResponse:
    return render(request, "agenda.html", await _agenda_context(request))


async def agenda_action(request: web.Request) -> web.StreamResponse:
    """The officer's steps on the agenda page: table a question (own, from a submission or from
    a composite), rule a submission out, propose a composite, answer one."""
    form = await read_form(request)
    node, who = node_of(request), who_of(request)
    action = request.match_info["action"]
    values = {k: text(form, k) for k in ("title", "text", "closes", "weighting", "source", "count", "names")}
    try:
        if action == "table":
            closes = _parse_time(values["closes"], "closes")
            source, composite = values["source"], text(form, "composite")
            new = NewItem(title=values["title"], text=values["text"].replace("\r\n", "\n"), closes=closes,
                          weighting=values["weighting"] or None,
                          sources=(bytes.fromhex(source),) if _is_hex(source) else (),
                          composite=bytes.fromhex(composite) if _is_hex(composite) else None)  # fmt: skip
            if not new.sources and not new.composite:
                if not new.title.strip() or not new.text.strip():
                    raise BadInput("a question has a title and a text", field="title" if not new.title else "text")
            elif new.sources:  # a submission goes on as submitted
                found = next((s for s in await subm.submissions(node) if s.envelope.id == new.sources[0]), None)
                if found is None:
                    raise BadInput("no such submission to this body", field="source")
                new = NewItem(title=found.body.title, text=found.body.text, closes=closes, weighting=new.weighting,
                              sources=new.sources)  # fmt: skip
            item = await upward.table_item(node, who, new)
            return redirect(f"/agenda/{item.id.hex()}?done=tabled")
        if action == "rule-out":
            await subm.rule_out(node, who, _form_id(text(form, "submission"), "submission"), text(form, "reason"))
            return redirect("/agenda?done=ruled-out")
        if action == "composite":
            sources = [_form_id(v, "sources") for v in form.getall("sources", []) if isinstance(v, str)]
            await subm.propose_composite(node, who, values["title"], values["text"].replace("\r\n", "\n"), sources)
            return redirect("/agenda?done=composite")
        if action == "delegates":
            count = whole_number(values["count"], 0, 10_000)
            if count is None:
                raise BadInput("the number of delegates is a whole number from 0 to 10000", field="count")
            names = [n.strip() for n in values["names"].splitlines() if n.strip()]
            if text(form, "via") == "members":  # where the rules make such a record the members' decision
                row = await authority.propose_delegates(node, who, count, names)
                return redirect(f"/ballots/{row.id}")
            await camp.record_delegates(node, who, count, names)
            return redirect("/agenda?done=delegates")
        if action == "answer":
            await subm.answer_composite(node, who, _form_id(text(form, "composite"), "composite"),
                                          text(form, "answer"))  # fmt: skip
            return redirect("/agenda?done=answered")
        raise BadInput("no such step")
    except NodeError as exc:
        context = await _agenda_context(request)
        context["values"] = values
        return form_error(request, "agenda.html", exc, context)


def _is_hex(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _form_id(value: str, field: str) -> bytes:
    if not _is_hex(value):
        raise BadInput("not an id", field=field)
    return bytes.fromhex(value)


async def _item_context(request: web.Request, item_id: bytes, **extra: Any) -> dict[str, Any]:
    node = node_of(request)
    report = await on_item.report(node, item_id)
    judged = report.judged
    assert judged is not None
    b = report.item.payload.body
    assert isinstance(b, AgendaItem)
    me = node.own_log.key.public
    children = []
    for key, weight in judged.weights.items():
        mandate = judged.latest.get(key)
        m = mandate.payload.body if mandate is not None else None
        assert m is None or isinstance(m, Mandate)
        turnout = None  # beside the weight: how many members of that body voted on it, of how many
        if m is not None and (raw := await node.envelopes.get(m.basis)) is not None:
            basis = open_envelope(raw).payload.body
            if isinstance(basis, Decision):
                turnout = f"{sum(basis.counts)} of {basis.electorate} voted"
        children.append({"name": judged.names.get(key) or node_id_text(key), "weight": weight,
                         "position": m.position if m else None, "split": list(m.split) if m else [],
                         "id": mandate.id.hex() if mandate else None, "turnout": turnout})  # fmt: skip
    refused = [{"by": upward.name_of(node, e.author), "id": e.id.hex(), "reason": REASONS.get(p, p)}
               for e, p in judged.mandates.values() if p is not None]  # fmt: skip
    aggregates = []
    for envelope, findings in report.aggregates:
        a = envelope.payload.body
        sent = len(a.counted) // up.RECORD  # type: ignore[union-attr]
        aggregates.append({"id": envelope.id.hex(), "by": upward.name_of(node, envelope.author), "body": a,
                           "sent": sent, "all": sent + len(a.absent) // up.RECORD,  # type: ignore[union-attr]
                           "findings": findings})  # fmt: skip
    parent = node.federation_state.body(me)
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    own = report.own_mandates[-1].payload.body if report.own_mandates else None
    ours = await node.ballots.of_motion(item_id.hex())
    our_ballot = {"id": ours[0].id, "state": ours[0].state, "closes": _when_ms(ours[0].closes)} if ours else None
    return {"our_ballot": our_ballot,
            "item": _item_row(node, report.item), "body": b, "opens": _when_ms(b.opens), "children": children,
            "refused": refused, "aggregates": aggregates, "positions": POSITIONS,
            "is_child": parent is not None and parent.parent == report.item.author,
            "is_ours": report.item.author == me, "open": b.opens <= now <= b.closes, "closed": now > b.closes,
            "own_mandate": own, "item_findings": report.findings, "notice": _notice(request), **extra}  # fmt: skip


async def item_page(request: web.Request) -> web.StreamResponse:
    return render(request, "item.html", await _item_context(request, _hex_id(request, "item_id")))


async def item_action(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who, item_id = node_of(request), who_of(request), _hex_id(request, "item_id")
    action = request.match_info["action"]
    try:
        if action == "ballot":
            hours = text(form, "closes_in").strip()
            closes = None
            if hours:
                number = whole_number(hours, 1, 24 * 90)
                if number is None:
                    raise BadInput("choose when voting closes from the list", field="closes")
                closes = int((dt.datetime.now(dt.UTC).timestamp() + number * 3600) * 1000)
            row = await on_item.ballot_on_item(node, who, item_id, closes=closes)
            return redirect(f"/ballots/{row.id}?done=ballot")
        if action == "mandate":
            position = text(form, "position")
            if position not in POSITIONS:
                raise BadInput("choose how the mandate follows the decision", field="position")
            await upward.issue_mandate(node, who, item_id, position="free" if position == "free" else None,
                                       split=position == "split")  # fmt: skip
        elif action == "aggregate":
            await rules_change.aggregate(node, who, item_id)
        else:
            raise BadInput("no such step")
    except NodeError as exc:
        return form_error(request, "item.html", exc, await _item_context(request, item_id))
    return redirect(f"/agenda/{item_id.hex()}?done={action}")


async def _campaigns_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    node = node_of(request)
    me = node.own_log.key.public
    listed = []
    for entry in await camp.campaigns(node):
        campaign, c = entry.campaign, entry.campaign.payload.body
        assert isinstance(c, Campaign)
        pledges = [(p, p.payload.body) for p in entry.pledges if isinstance(p.payload.body, Pledge)]
        withdrawn = entry.withdrawn.get(campaign.id)
        listed.append({"id": campaign.id.hex(), "by": upward.name_of(node, campaign.author), "body": c,
                       "starts": _when_ms(c.starts), "ends": _when_ms(c.ends), "ours": campaign.author == me,
                       "withdrawn": withdrawn,
                       "pledged": any(p.author == me for p, _ in pledges),
                       "pledges": [{"id": p.id.hex(), "by": upward.name_of(node, p.author), "ours": p.author == me,
                                    "text": body.text, "withdrawn": entry.withdrawn.get(p.id)}
                                   for p, body in pledges]})  # fmt: skip
    return {"campaigns": listed, "values": {"title": "", "text": "", "asks": "", "contact": ""},
            "notice": _notice(request), **extra}  # fmt: skip


async def campaigns_page(request: web.Request) -> web.StreamResponse:
    return render(request, "campaigns.html", await _campaigns_context(request))


async def campaign_action(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who = node_of(request), who_of(request)
    values = {k: text(form, k) for k in ("title", "text", "asks", "contact")}
    try:
        if request.match_info["action"] == "publish":
            await camp.publish_campaign(node, who, values["title"], values["text"].replace("\r\n", "\n"),
                                          values["asks"], contact=values["contact"])  # fmt: skip
            return redirect("/campaigns?done=campaign")
        if request.match_info["action"] == "pledge":
            await camp.pledge(node, who, _form_id(text(form, "campaign"), "campaign"), text(form, "pledge"))
            return redirect("/campaigns?done=pledged")
        if request.match_info["action"] == "withdraw":
            await camp.withdraw(node, who, _form_id(text(form, "notice"), "notice"), text(form, "reason"))
            return redirect("/campaigns?done=withdrawn")
        raise BadInput("no such step")
    except NodeError as exc:
        context = await _campaigns_context(request)
        context["values"] = values
        return form_error(request, "campaigns.html", exc, context)


PAGES = [
    Page("GET", "/agenda", agenda_page, "member"),
    Page("POST", "/agenda/do/{action}", agenda_action, "officer"),
    Page("GET", "/agenda/{item_id}", item_page, "member"),
    Page("POST", "/agenda/{item_id}/{action}", item_action, "officer"),
    Page("GET", "/campaigns", campaigns_page, "member"),
    Page("POST", "/campaigns/do/{action}", campaign_action, "officer"),
]
