"""Members' data on the pages: each member's own page of what the node holds about them, who
looked at their record, and their request to be forgotten; the officers' page of requests and
of what the retention rule removes when; the admins' whole access record; the privacy notice.
The rules are :mod:`node.rules.members`, :mod:`node.rules.members_data` and
:mod:`node.rules.retention`, as the API's (node/web/routes/privacy.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from node.errors import NodeError
from node.rules import members as member_rules
from node.rules import members_data, retention
from node.web.common import int_param, int_query, node_of
from node.web.pages.account import form_error
from node.web.pages.common import HEADERS, Page, read_form, redirect, render, text, who_of
from node.web.routes.privacy import erasure_view, views

ACTIONS = {"view": "opened the record", "search": "listed or searched the members",
           "export": "exported the members", "import": "imported members",
           "download": "downloaded their own data", "erase": "erased a member",
           "register": "downloaded a ballot's marked register (as a scrutineer)"}  # fmt: skip
VIA = {"page": "on the pages", "api": "through the API", "cli": "on the server's command line",
       "rule": "by the retention rule"}
PAGE = 50


async def _rows(request: web.Request, member_id: int | None) -> dict[str, Any]:
    node = node_of(request)
    before = int_query(request, "before", 1 << 62, 1, 1 << 62)
    rows = await member_rules.who_looked(node, who_of(request), member_id=member_id, before=before, limit=PAGE + 1)
    shown = await views(node, rows[:PAGE])
    return {"accesses": shown, "actions": ACTIONS, "via": VIA,
            "next": shown[-1].id if len(rows) > PAGE else None}  # fmt: skip


SECTIONS = {
    "details": "Your details", "consent_history": "Your consents, as they changed",
    "notice_choices": "Mail you chose to be sent", "sessions": "Where you are signed in",
    "api_tokens": "Your API tokens", "invites": "Invites sent to you", "password_resets": "Password reset links",
    "mail": "Mail sent to you", "ballots_on_roll": "Ballots you were on the roll of (whether you voted, never how)",
    "ballots_opened": "Ballots you opened", "motions": "Motions you moved", "amendments": "Amendments you proposed",
    "comments": "Your comments", "candidacies": "Where you stood", "join_codes_made": "Join codes you made",
    "joins_decided": "Join requests you decided", "who_looked": "Who opened your record",
    "what_they_looked_at": "Members' data you looked at", "erasure_requests": "Your requests to be forgotten",
    "erasures_decided": "Requests to be forgotten you answered",
}  # fmt: skip


NOTICES = {"asked": "Your request is recorded. An officer will carry it out, or tell you here why not.",
           "erased": "Done: the member is forgotten.", "refused": "Refused: the member sees your reason."}  # fmt: skip


async def my_data_page(request: web.Request) -> web.StreamResponse:
    data = await members_data.my_data(node_of(request), who_of(request), "page")
    sections = [(SECTIONS.get(k, k), rows) for k, rows in data.items() if isinstance(rows, list)]
    asked = data["erasure_requests"][-1] if data["erasure_requests"] else None
    return render(request, "my_data.html", {**await _rows(request, who_of(request).id), "sections": sections,
                                            "erasure": asked, "notice": NOTICES.get(request.query.get("done", ""))})


async def ask_erasure(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await members_data.ask_to_be_forgotten(node_of(request), who_of(request))
    return redirect("/account/data?done=asked")


async def _erasures_context(request: web.Request) -> dict[str, Any]:
    node = node_of(request)
    rows = [await erasure_view(node, r) for r in await members_data.erasure_requests(node, who_of(request))]
    return {"waiting": [r for r in rows if r.state == "asked"], "answered": [r for r in rows if r.state != "asked"],
            "notice": NOTICES.get(request.query.get("done", ""))}  # fmt: skip


async def erasures_page(request: web.Request) -> web.StreamResponse:
    return render(request, "erasures.html", await _erasures_context(request))


async def erasure_action(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who, request_id = node_of(request), who_of(request), int_param(request, "request_id")
    try:
        if request.match_info["action"] == "carry-out":
            await members_data.carry_out(node, who, request_id, "page")
            return redirect("/members/erasures?done=erased")
        await members_data.refuse(node, who, request_id, text(form, "answer"))
        return redirect("/members/erasures?done=refused")
    except NodeError as exc:
        return form_error(request, "erasures.html", exc, await _erasures_context(request))


async def my_data_download(request: web.Request) -> web.StreamResponse:
    data = await members_data.my_data(node_of(request), who_of(request), "page")
    name = f"my-data-{dt.date.today().isoformat()}.json"
    return web.Response(body=json.dumps(data, indent=2, ensure_ascii=False).encode(), content_type="application/json",
                        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


async def access_page(request: web.Request) -> web.StreamResponse:
    return render(request, "access.html", await _rows(request, None))


async def retention_page(request: web.Request) -> web.StreamResponse:
    node = node_of(request)
    return render(request, "retention.html", {"rule": node.config.retention,
                                              "going": await retention.plan(node, who_of(request))})


async def _notice_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    node = node_of(request)
    return {"fields": await members_data.privacy_notice(node), "rule": node.config.retention,
            "notice": {"saved": "Saved: the notice now says this."}.get(request.query.get("done", "")), **extra}


async def privacy_page(request: web.Request) -> web.StreamResponse:
    return render(request, "privacy.html", await _notice_context(request))


async def privacy_save(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    fields = {k: text(form, k) for k in members_data.NOTICE_FIELDS}
    try:
        await members_data.write_privacy_notice(node_of(request), who_of(request), fields)
    except NodeError as exc:
        return form_error(request, "privacy.html", exc, await _notice_context(request, values=fields))
    return redirect("/privacy?done=saved")


PAGES = [
    Page("GET", "/privacy", privacy_page, "public"),
    Page("POST", "/privacy", privacy_save, "officer"),
    Page("GET", "/account/data", my_data_page, "member"),
    Page("GET", "/account/data.json", my_data_download, "member"),
    Page("POST", "/account/erasure", ask_erasure, "member"),
    Page("GET", "/members/access", access_page, "admin"),
    Page("GET", "/members/erasures", erasures_page, "officer"),
    Page("GET", "/members/retention", retention_page, "officer"),
    Page("POST", "/members/erasures/{request_id}/{action:carry-out|refuse}", erasure_action, "officer"),
]
