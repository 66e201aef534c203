"""Members' data on the pages: each member's own page of what the node holds about them and
who looked at their record; the admins' whole access record. The rules are
:mod:`node.rules.members`, as the API's (node/web/routes/privacy.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from node.rules import members as member_rules
from node.rules import members_data
from node.web.common import int_query, node_of
from node.web.pages.common import HEADERS, Page, render, who_of
from node.web.routes.privacy import views

ACTIONS = {"view": "opened the record", "search": "listed or searched the members",
           "export": "exported the members", "import": "imported members",
           "download": "downloaded their own data", "erase": "erased a member"}  # fmt: skip
VIA = {"page": "on the pages", "api": "through the API", "cli": "on the server's command line"}
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
    "what_they_looked_at": "Members' data you looked at",
}  # fmt: skip


async def my_data_page(request: web.Request) -> web.StreamResponse:
    data = await members_data.my_data(node_of(request), who_of(request), "page")
    sections = [(SECTIONS.get(k, k), rows) for k, rows in data.items() if isinstance(rows, list)]
    return render(request, "my_data.html", {**await _rows(request, who_of(request).id), "sections": sections})


async def my_data_download(request: web.Request) -> web.StreamResponse:
    data = await members_data.my_data(node_of(request), who_of(request), "page")
    name = f"my-data-{dt.date.today().isoformat()}.json"
    return web.Response(body=json.dumps(data, indent=2, ensure_ascii=False).encode(), content_type="application/json",
                        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


async def access_page(request: web.Request) -> web.StreamResponse:
    return render(request, "access.html", await _rows(request, None))


PAGES = [
    Page("GET", "/account/data", my_data_page, "member"),
    Page("GET", "/account/data.json", my_data_download, "member"),
    Page("GET", "/members/access", access_page, "admin"),
]
