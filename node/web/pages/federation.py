"""Federation pages. Officers: join requests, the bodies this node charters (and revoking
them), peers and health. Anyone: this node's profile, its place in the federation (the
tree of chartered bodies) and any envelope it holds, with its signature and trust status."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from node.errors import BadInput, NodeError, NotFound
from node.federation import acts, authority, judging
from node.federation.upward import name_of
from node.storage.joins import LIST_LIMIT
from node.validation import whole_number
from node.web.common import GOSSIP, int_param, node_of
from node.web.pages.account import form_error
from node.web.pages.common import Page, read_form, redirect, render, text, who_of
from node.web.routes.findings import cursor_of, parse_after
from protocol import ProtocolError, node_id_text, open_envelope, parse_node_id
from protocol.authority import freeze_days
from protocol.models import MAX_SEQ
from protocol.trust import CharteredBody, Trust
from protocol.views import envelope_view

NOTICES = {
    "approved": "Approved: the charter is signed and spreading.",
    "refused": "Refused.",
    "chartered": "Chartered: the charter is signed and spreading.",
    "revoked": "Revoked: the revocation is signed and spreading.",
    "frozen": "Frozen: the freeze is signed and spreading; it lapses at its time unless the members revoke.",
}


@dataclass
class TreeNode:
    body: CharteredBody
    id_text: str
    children: list[TreeNode] = field(default_factory=list)


def _tree(trust: Trust) -> TreeNode:
    """The chartered bodies under the founder (rotated-away keys shown through their successor)."""
    nodes = {k: TreeNode(b, node_id_text(k)) for k, b in trust.bodies.items() if b.cut_reason != "retired"}
    for key, item in sorted(nodes.items(), key=lambda kv: (kv[1].body.level, kv[1].body.name)):
        parent = item.body.parent
        while parent is not None and parent not in nodes and trust.bodies.get(parent) is not None:
            parent = trust.bodies[parent].successor  # a parent that rotated its key: its new key
        if parent is not None and parent in nodes and key != trust.founder:
            nodes[parent].children.append(item)
    return nodes.get(trust.founder) or TreeNode(trust.bodies[trust.founder], node_id_text(trust.founder))


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("done", ""))


# --- officers ---------------------------------------------------------------------------------
async def joins_page(request: web.Request, code: str | None = None) -> web.StreamResponse:
    node = node_of(request)
    joins = node.joins
    await joins.expire()
    pending = await joins.list("pending", 0, LIST_LIMIT)
    pending.sort(key=lambda j: not j.expected)  # the nodes this body expects first
    voting = await joins.list("voting", 0, LIST_LIMIT)
    decided = [j for j in await joins.list(None, 0, LIST_LIMIT) if j.status not in ("pending", "voting")]
    trust = node.federation_state.trust
    by_vote = trust is not None and "charter" in (trust.rules.authority or [])
    return render(request, "joins.html", {"pending": pending, "voting": voting, "decided": decided[-20:],
                                          "notice": _notice(request), "code": code, "by_vote": by_vote,
                                          "public_url": node.config.http.public_url})  # fmt: skip


async def join_code(request: web.Request) -> web.StreamResponse:
    """A one-time join code, shown on the page once (a redirect would have to carry it)."""
    await read_form(request)
    return await joins_page(request, await acts.join_code(node_of(request), who_of(request).id))


async def join_approve(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await acts.approve_join(node_of(request), int_param(request, "join_id"), who_of(request).id)
    return redirect("/federation/joins?done=approved")


async def join_propose(request: web.Request) -> web.StreamResponse:
    """Put the charter a join request asks for to the members: to its ballot."""
    await read_form(request)
    row = await authority.propose_join(node_of(request), who_of(request), int_param(request, "join_id"))
    return redirect(f"/ballots/{row.id}")


async def join_refuse(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await acts.refuse_join(node_of(request), int_param(request, "join_id"), who_of(request).id)
    return redirect("/federation/joins?done=refused")


def _children(request: web.Request) -> list[CharteredBody]:
    node = node_of(request)
    trust = node.federation_state.trust
    if trust is None:
        return []
    return sorted(
        (b for b in trust.bodies.values() if b.issuer == node.key.public and b.parent == node.key.public),
        key=lambda b: (b.level, b.name),
    )


async def _children_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    node = node_of(request)
    trust = node.federation_state.trust
    needs = set(trust.rules.authority or []) if trust is not None else set()
    put = [{"ballot": act.ballot_id, "text": act.text, "state": act.state,
            "signed": act.signed.hex() if act.signed else None} for act in await node.acts.recent(20)]  # fmt: skip
    return {
        "children": [(b, node_id_text(b.key)) for b in _children(request)],
        "federated": trust is not None,
        "needs": needs,  # the acts only the members may authorise here
        "acts": put,
        "charter": {"node_id": "", "name": "", "level": "branch", "url": ""},
        "revoke": {"node_id": "", "after_seq": "", "reason": ""},
        "freeze": {"node_id": "", "days": "7", "reason": ""},
        "freeze_days": freeze_days(trust.rules) if trust is not None else 14,
        "errors": {},
        "form": None,
        "notice": _notice(request),
        **extra,
    }


async def children_page(request: web.Request) -> web.StreamResponse:
    return render(request, "children.html", await _children_context(request))


def _node_id(value: str) -> bytes:
    try:
        return parse_node_id(value.strip())
    except ProtocolError as exc:
        raise BadInput(exc.message, field="node_id") from None


async def charter(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {k: text(form, k).strip() for k in ("node_id", "name", "level", "url")}
    try:
        if not values["name"] or not values["level"]:
            raise BadInput("a charter names the body and its level", field="name" if not values["name"] else "level")
        args = (_node_id(values["node_id"]), values["name"], values["level"], values["url"] or None)
        if text(form, "via") == "members":
            row = await authority.propose_charter(node_of(request), who_of(request), *args)
            return redirect(f"/ballots/{row.id}")
        await acts.issue_charter(node_of(request), *args)
    except (NodeError, ProtocolError) as exc:
        error = exc if isinstance(exc, NodeError) else BadInput(exc.message, field=exc.field)
        return form_error(
            request, "children.html", error, await _children_context(request, charter=values, form="charter")
        )
    return redirect("/federation/children?done=chartered")


async def revoke(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {k: text(form, k).strip() for k in ("node_id", "after_seq", "reason")}
    try:
        after = whole_number(values["after_seq"], 0, MAX_SEQ) if values["after_seq"] else None
        if values["after_seq"] and after is None:
            raise BadInput("the last envelope still valid: a whole number, or leave it empty", field="after_seq")
        args = (_node_id(values["node_id"]), after, values["reason"][:2000])
        if text(form, "via") == "members":
            row = await authority.propose_revocation(node_of(request), who_of(request), *args)
            return redirect(f"/ballots/{row.id}")
        await acts.revoke(node_of(request), *args)
    except (NodeError, ProtocolError) as exc:
        error = exc if isinstance(exc, NodeError) else BadInput(exc.message, field=exc.field)
        return form_error(
            request, "children.html", error, await _children_context(request, revoke=values, form="revoke")
        )
    return redirect("/federation/children?done=revoked")


async def freeze(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {k: text(form, k).strip() for k in ("node_id", "days", "reason")}
    try:
        days = whole_number(values["days"], 1, 90)
        if days is None:
            raise BadInput("how many days: a whole number", field="days")
        await acts.freeze(node_of(request), who_of(request), _node_id(values["node_id"]), days, values["reason"][:2000])
    except (NodeError, ProtocolError) as exc:
        error = exc if isinstance(exc, NodeError) else BadInput(exc.message, field=exc.field)
        return form_error(
            request, "children.html", error, await _children_context(request, freeze=values, form="freeze")
        )
    return redirect("/federation/children?done=frozen")


async def health_page(request: web.Request) -> web.StreamResponse:
    node = node_of(request)
    state = node.federation_state
    gossip = request.app[GOSSIP]
    now = time.monotonic()
    trust = state.trust
    peers = []
    for p in sorted(gossip.peers.peers.values(), key=lambda p: p.address):
        body = trust.bodies.get(p.node_id) if trust is not None and p.node_id else None
        peers.append(
            {
                "address": p.address,
                "name": body.name if body else None,
                "source": p.source,
                "lag": None if p.last_ok is None else round(now - p.last_ok, 1),
                "failures": p.failures,
                "last_error": p.last_error,
                "sent": p.sent,
                "received": p.received,
            }
        )
    counters: dict[str, dict[str, int]] = {}
    for name, value in sorted(state.counters.items()):
        outcome, _, code = name.partition(":")
        counters.setdefault(outcome, {})[code or "-"] = value
    forks, held = await state.store.counts()
    return render(
        request,
        "health.html",
        {
            "peers": peers,
            "rejected": counters.get("rejected", {}),
            "counters": counters,
            "forks": forks,
            "held": held,
            "quarantine": state.quarantined,
            "authors": len(state.heads),
            "objects": sum(h.seq for h in state.heads.values()),
            "cut": [(b, node_id_text(b.key)) for b in (trust.bodies.values() if trust else []) if b.cut_reason],
        },
    )


# --- anyone -----------------------------------------------------------------------------------
async def about_page(request: web.Request) -> web.StreamResponse:
    node = node_of(request)
    trust = node.federation_state.trust
    me = trust.bodies.get(node.key.public) if trust else None
    parent = trust.bodies.get(me.parent) if trust and me and me.parent else None
    return render(
        request,
        "about.html",
        {
            "node_id": node.key.node_id,
            "url": node.config.http.public_url,
            "me": me,
            "parent": parent,
            "parent_id": node_id_text(parent.key) if parent else None,
            "federation": node.federation_state.federation.hex() if node.federation_state.federation else None,
            "children": [(b, node_id_text(b.key)) for b in _children(request)],
            "objects": sum(h.seq for h in node.federation_state.heads.values()),
            "contact": await acts.contact_of(node.own_log, node.envelopes),
        },
    )


async def about_save(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node = node_of(request)
    await acts.publish_contact(node.own_log, node.config.node.name, node.config.http.public_url, who_of(request),
                               text(form, "contact"))  # fmt: skip
    return redirect("/about")


async def federation_page(request: web.Request) -> web.StreamResponse:
    node = node_of(request)
    trust = node.federation_state.trust
    return render(
        request,
        "federation.html",
        {
            "tree": _tree(trust) if trust else None,
            "me": node.key.node_id,
            "bodies": len(trust.bodies) if trust else 0,
            "federation": trust.federation.hex() if trust else None,
        },
    )


def trust_status(trust: Trust | None, author: bytes, seq: int) -> tuple[str, str]:
    """("ok" | "warn" | "bad", a sentence) for an envelope held here."""
    if trust is None:
        return "warn", "This node is not in a federation yet, so the author's standing is unknown."
    body = trust.bodies.get(author)
    if body is None:
        return "warn", "The author is not a chartered body that this node knows of."
    who = f"{body.name} ({body.level})"
    if body.cut is not None and seq > body.cut:
        return "bad", f"{who}: its key was {body.cut_reason} after sequence {body.cut}; this envelope came later."
    if body.cut is not None:
        return "ok", f"{who}: its key was {body.cut_reason} after sequence {body.cut}; this envelope came before."
    if author == trust.founder:
        return "ok", f"{who}: the founder of this federation."
    return "ok", f"{who}: chartered, in good standing."


async def envelope_page(request: web.Request) -> web.StreamResponse:
    raw_id = request.match_info["id"]
    try:
        envelope_id = bytes.fromhex(raw_id)
        if len(envelope_id) != 32:
            raise ValueError
    except ValueError:
        raise NotFound("an envelope id is 64 hex digits") from None
    node = node_of(request)
    raw = await node.envelopes.get(envelope_id)
    if raw is None:
        raise NotFound("this node holds no envelope with that id")
    envelope = open_envelope(raw)
    level, status = trust_status(node.federation_state.trust, envelope.author, envelope.seq)
    view = envelope_view(envelope)
    return render(
        request,
        "envelope.html",
        {
            "view": view,
            "json": json.dumps(view, indent=2, ensure_ascii=False),
            "seq": envelope.seq,
            "level": level,
            "status": status,
            "size": len(raw),
        },
    )


KIND_NAMES = {"aggregate": "aggregate", "roll": "roll", "decision": "decision", "decision_part": "part of a decision",
              "ballot_paper": "ballot paper",
              "selection_result": "selection result"}  # fmt: skip


async def findings_page(request: web.Request) -> web.StreamResponse:
    """Every finding this node holds, newest first, 50 a page."""
    node = node_of(request)
    try:
        after = parse_after(request.query.get("after"))
    except NodeError:
        after = None
    found = await judging.findings(node, 51, after)
    rows = [{"id": f.object.hex(), "kind": KIND_NAMES.get(f.kind, f.kind), "by": name_of(node, f.author),
             "code": f.code, "message": f.message,
             "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(f.found_at / 1000))}
            for f in found[:50]]  # fmt: skip
    later = cursor_of(found[49]) if len(found) > 50 else None
    return render(request, "findings.html", {"findings": rows, "next": later, "first_page": after is None})


PAGES = [
    Page("GET", "/about", about_page, "public"),
    Page("POST", "/about", about_save, "officer"),
    Page("GET", "/findings", findings_page, "member"),
    Page("GET", "/federation", federation_page, "public"),
    Page("GET", "/envelopes/{id}", envelope_page, "public"),
    Page("GET", "/federation/joins", joins_page, "officer"),
    Page("POST", "/federation/joins/code", join_code, "officer"),
    Page("POST", "/federation/joins/{join_id}/approve", join_approve, "officer"),
    Page("POST", "/federation/joins/{join_id}/propose", join_propose, "officer"),
    Page("POST", "/federation/joins/{join_id}/refuse", join_refuse, "officer"),
    Page("GET", "/federation/children", children_page, "officer"),
    Page("POST", "/federation/charters", charter, "officer"),
    Page("POST", "/federation/revocations", revoke, "officer"),
    Page("POST", "/federation/freezes", freeze, "officer"),
    Page("GET", "/federation/health", health_page, "officer"),
]
