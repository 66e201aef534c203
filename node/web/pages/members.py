"""Officers' pages for members: list with search and paging, add, edit, suspend, remove,
invite, import and export. Every change goes through :mod:`node.rules.members`, as the API's."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from node.errors import BadInput, NodeError
from node.rules import members as member_rules
from node.rules.members_csv import write_members_csv
from node.storage.members import ROLES, STATUSES, Member, MemberIn, MemberPatch
from node.web.common import int_param, int_query, node_of
from node.web.pages import mail
from node.web.pages.account import form_error
from node.web.pages.common import (
    HEADERS,
    PAGE_SIZE,
    Form,
    Page,
    checked,
    page_count,
    read_form,
    redirect,
    render,
    text,
    who_of,
)
from node.web.statuses import status_of

NOTICES = {
    "added": "Member added.",
    "saved": "Saved.",
    "removed": "Member removed.",
    "suspended": "Membership suspended: they cannot sign in.",
    "reinstated": "Membership reinstated.",
}
FIELDS = ("name", "email", "role", "status", "joined", "youth", "consent_contact", "consent_publish_name")


def _values(form: Form) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k).strip() for k in ("name", "email", "role", "status", "joined")}
    values.update({k: checked(form, k) for k in ("youth", "consent_contact", "consent_publish_name")})
    return values


def _form_context(member: Member | None, values: dict[str, Any]) -> dict[str, Any]:
    return {"member": member, "values": values, "roles": ROLES, "statuses": STATUSES, "errors": {}}


class RenderedTables:
    """Member tables as rendered, by (members version, search, status, page): officers page
    back and forth through the same list, and the version (kept by a trigger) moves with
    every change to any member, from the pages, the API or the command line. A table holds
    no viewer's data (who is looking, the form token), so one serves every officer."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.tables: OrderedDict[tuple[int, str, str | None, int], tuple[Markup, int]] = OrderedDict()

    def get(self, key: tuple[int, str, str | None, int]) -> tuple[Markup, int] | None:
        found = self.tables.get(key)
        if found is not None:
            self.tables.move_to_end(key)
        return found

    def put(self, key: tuple[int, str, str | None, int], value: tuple[Markup, int]) -> None:
        self.tables[key] = value
        while len(self.tables) > self.size:
            self.tables.popitem(last=False)


TABLES = web.AppKey("member_tables", RenderedTables)


async def members_page(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "").strip()[:200]
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadInput("status is one of " + ", ".join(STATUSES), field="status")
    page = int_query(request, "page", 1, 1, 10**6)
    store = node_of(request).members

    def page_url(n: int) -> str:
        return "/members?" + urlencode({k: v for k, v in (("q", q), ("status", status or ""), ("page", n)) if v})

    tables = request.app[TABLES]
    key = (await store.version(), q, status, page)  # read first: a table is never older than its key
    cached = tables.get(key)
    if cached is None:
        found = await store.page(q, status, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        pages = page_count(found.total)
        context = {"members": found.members, "page": page, "pages": pages, "page_url": page_url}
        html = aiohttp_jinja2.get_env(request.app).get_template("_members_table.html").render(context)
        cached = (Markup(html), found.total)  # autoescaped by the template: safe as it stands
        tables.put(key, cached)
    table, total = cached
    shown = max(0, min(PAGE_SIZE, total - (page - 1) * PAGE_SIZE))
    await member_rules.record_search(node_of(request), who_of(request), shown, "page")
    context = {
        "table": table,
        "total": total,
        "q": q,
        "status": status,
        "statuses": STATUSES,
        "page": page,
        "pages": page_count(total),
        "notice": NOTICES.get(request.query.get("done", "")),
        "to_invite": await node_of(request).auth.not_invited() if node_of(request).config.mail.enabled else 0,
    }
    return render(request, "members.html", context)


async def new_page(request: web.Request) -> web.StreamResponse:
    values = {
        "role": "member",
        "status": "active",
        "name": "",
        "email": "",
        "joined": "",
        "youth": False,
        "consent_contact": False,
        "consent_publish_name": False,
    }
    return render(request, "member_form.html", _form_context(None, values))


async def add(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = _values(form)
    try:
        member_in = member_rules.parse({k: v for k, v in values.items() if v != ""}, MemberIn)
        member = await member_rules.add(node_of(request), who_of(request), member_in)
    except NodeError as exc:
        return form_error(request, "member_form.html", exc, _form_context(None, values))
    return redirect(f"/members/{member.id}?done=added")


async def edit_page(request: web.Request) -> web.StreamResponse:
    member = await member_rules.look(node_of(request), who_of(request), int_param(request, "member_id"), "page")
    values = {f: getattr(member, f) for f in FIELDS}
    context = {**_form_context(member, values), "notice": NOTICES.get(request.query.get("done", ""))}
    return render(request, "member_form.html", context)


async def _change(request: web.Request, member: Member, patch: MemberPatch, done: str) -> web.StreamResponse:
    await member_rules.change(node_of(request), who_of(request), member.id, patch)
    return redirect(f"/members/{member.id}?done={done}")


async def edit(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    member = await node_of(request).members.require(int_param(request, "member_id"))
    values = _values(form)
    try:
        patch = member_rules.parse({k: v for k, v in values.items() if v != ""}, MemberPatch)
        return await _change(request, member, patch, "saved")
    except NodeError as exc:
        return form_error(request, "member_form.html", exc, _form_context(member, values))


async def suspend(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    member = await node_of(request).members.require(int_param(request, "member_id"))
    return await _change(request, member, MemberPatch(status="suspended"), "suspended")


async def reinstate(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    member = await node_of(request).members.require(int_param(request, "member_id"))
    return await _change(request, member, MemberPatch(status="active"), "reinstated")


async def remove_page(request: web.Request) -> web.StreamResponse:
    member = await member_rules.look(node_of(request), who_of(request), int_param(request, "member_id"), "page")
    return render(request, "member_remove.html", {"member": member})


async def remove(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await member_rules.remove(node_of(request), who_of(request), int_param(request, "member_id"))
    return redirect("/members?done=removed")


async def invite(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    node = node_of(request)
    member = await node.members.require(int_param(request, "member_id"))
    made = await member_rules.invite(node, who_of(request), member.id)
    return render(request, "member_invite.html", {"member": member, "made": made}, status=201)


async def import_page(request: web.Request) -> web.StreamResponse:
    return render(request, "import.html", {"skip_bad": False, "result": None})


async def import_file(request: web.Request) -> web.StreamResponse:
    skip_bad = False
    try:
        form = await read_form(request)
        skip_bad = checked(form, "skip_bad")
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise BadInput("choose a CSV file to import", field="file")
        data = upload.file.read()
        result = await member_rules.import_csv(node_of(request), who_of(request), data, skip_bad=skip_bad,
                                               via="page")  # fmt: skip
    except member_rules.CsvRejected as exc:
        count = len(exc.problems)
        return render(
            request,
            "import.html",
            {
                "skip_bad": skip_bad,
                "result": None,
                "problems": exc.problems,
                "error": f"Nothing was imported: the file has {count} problem{'' if count == 1 else 's'}. "
                "Correct them and import the whole file again, or tick the box to import only the good lines.",
            },
            status=400,
        )
    except NodeError as exc:
        context = {"skip_bad": skip_bad, "result": None, "error": exc.message}
        return render(request, "import.html", context, status=status_of(exc))
    return render(request, "import.html", {"skip_bad": skip_bad, "result": result})


async def export(request: web.Request) -> web.StreamResponse:
    body = write_members_csv(await member_rules.export(node_of(request), who_of(request), "page"))
    name = f"members-{dt.date.today().isoformat()}.csv"
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


PAGES = [
    Page("GET", "/members", members_page, "officer"),
    Page("GET", "/members/export.csv", export, "officer"),
    Page("GET", "/members/new", new_page, "officer"),
    Page("POST", "/members/new", add, "officer"),
    Page("GET", "/members/import", import_page, "officer"),
    Page("POST", "/members/import", import_file, "officer"),
    Page("POST", "/members/invite-everyone", mail.invite_everyone, "officer"),  # before /members/{member_id}
    Page("GET", "/members/{member_id}", edit_page, "officer"),
    Page("POST", "/members/{member_id}", edit, "officer"),
    Page("POST", "/members/{member_id}/suspend", suspend, "officer"),
    Page("POST", "/members/{member_id}/reinstate", reinstate, "officer"),
    Page("GET", "/members/{member_id}/remove", remove_page, "officer"),
    Page("POST", "/members/{member_id}/remove", remove, "officer"),
    Page("POST", "/members/{member_id}/invite", invite, "officer"),
]
