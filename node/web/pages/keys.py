"""My keys (issue 25): a member's passkeys and key files, on the page. A passkey is made by the
browser (a little JavaScript: site.js asks this page for the options and hands back what the
browser made); a key file's public key is pasted in a form; each is revoked with a button.
And the scrutineers: who they are (every member sees), appointed and dismissed by officers,
and a decided ballot's marked register downloaded by a scrutineer from the ballot's page.
Every step calls node/rules/member_keys.py, as the API and the command line do."""

from __future__ import annotations

import json

import msgspec
from aiohttp import web

from node.errors import BadInput, Conflict, NodeError
from node.federation.participations import register_for
from node.rules import member_keys as rules
from node.rules.members import access
from node.validation import whole_number
from node.web.common import int_param, json_response, node_of
from node.web.pages.account import form_error
from node.web.pages.common import Page, read_form, redirect, render, text, who_of
from node.web.routes.keys import public_bytes
from node.web.statuses import status_of

NOTICES = {"added": "Your key is kept: it signs your participation in ballots from now on.",
           "revoked": "Revoked: that key signs nothing more here."}  # fmt: skip


async def _context(request: web.Request) -> dict[str, object]:
    node = node_of(request)
    try:
        site: str | None = rules.site_of(node.config).rp_id
    except Conflict:
        site = None
    return {"keys": await rules.keys(node, who_of(request)), "site": site, "errors": {}, "values": {},
            "notice": NOTICES.get(request.query.get("done", ""))}  # fmt: skip


async def keys_page(request: web.Request) -> web.StreamResponse:
    return render(request, "keys.html", await _context(request))


async def passkey_options(request: web.Request) -> web.StreamResponse:
    """For site.js: the options to make a passkey (the challenge kept five minutes)."""
    await read_form(request)
    return json_response(await rules.registration_options(node_of(request), who_of(request)))


async def passkey_add(request: web.Request) -> web.StreamResponse:
    """For site.js: what the browser made. JSON back: where to go, or what is wrong."""
    form = await read_form(request)
    raw = text(form, "credential")
    try:
        if len(raw) > rules.MAX_CREDENTIAL:
            raise BadInput("the browser's answer is too long to be a passkey", field="credential")
        try:
            credential = json.loads(raw)
        except ValueError:
            raise BadInput("the browser's answer is not JSON", field="credential") from None
        if not isinstance(credential, dict):
            raise BadInput("the browser's answer is not a passkey", field="credential")
        await rules.add_passkey(node_of(request), who_of(request), credential, text(form, "label"))
    except NodeError as exc:
        return json_response({"error": exc.message}, status=status_of(exc))
    return json_response({"next": "/account/keys?done=added"}, status=201)


async def key_file_add(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {"public": text(form, "public").strip(), "label": text(form, "label").strip()}
    try:
        await rules.add_key_file(node_of(request), who_of(request), public_bytes(values["public"]), values["label"])
    except NodeError as exc:
        return form_error(request, "keys.html", exc, {**await _context(request), "values": values})
    return redirect("/account/keys?done=added")


async def key_revoke(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await rules.revoke(node_of(request), who_of(request), int_param(request, "key_id"))
    return redirect("/account/keys?done=revoked")


SCRUTINEER_NOTICES = {"appointed": "Appointed: they may download each counted ballot's register from its page.",
                      "dismissed": "Dismissed."}  # fmt: skip


MAX_CHOICES = 300  # a branch with more members eligible is asked for the member's number, not shown a list


async def _scrutineers_context(request: web.Request) -> dict[str, object]:
    node = node_of(request)
    appointed = await node.scrutineers.all()
    eligible: list[object] = []
    if access(who_of(request).role) >= 1:  # the officers' form: the members they may appoint
        taken = {s.member_id for s in appointed}
        eligible = [m for m in await node.members.list("active") if access(m.role) < 1 and m.id not in taken]
    return {"scrutineers": appointed, "eligible": eligible, "choose": len(eligible) <= MAX_CHOICES, "errors": {},
            "notice": SCRUTINEER_NOTICES.get(request.query.get("done", ""))}  # fmt: skip


async def scrutineers_page(request: web.Request) -> web.StreamResponse:
    return render(request, "scrutineers.html", await _scrutineers_context(request))


async def scrutineer_appoint(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    try:
        member = whole_number(text(form, "member_id"), 1, 2**62)
        if member is None:
            raise BadInput("choose a member to appoint", field="member_id")
        await rules.appoint_scrutineer(node_of(request), who_of(request), member)
    except NodeError as exc:
        return form_error(request, "scrutineers.html", exc, await _scrutineers_context(request))
    return redirect("/scrutineers?done=appointed")


async def scrutineer_dismiss(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await rules.dismiss_scrutineer(node_of(request), who_of(request), int_param(request, "member_id"))
    return redirect("/scrutineers?done=dismissed")


async def register_download(request: web.Request) -> web.StreamResponse:
    """A counted ballot's marked register, as a file for `branchnet audit --register` (a
    scrutineer's; the download is recorded where members see who looked)."""
    node = node_of(request)
    row = await node.ballots.require(int_param(request, "ballot_id"))
    register = await register_for(node, who_of(request), row, "page")
    return web.Response(body=msgspec.json.encode(register), content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="ballot-{row.id}-register.json"',
        "Cache-Control": "no-store"})  # fmt: skip


PAGES = [
    Page("GET", "/scrutineers", scrutineers_page, "member"),
    Page("POST", "/scrutineers/appoint", scrutineer_appoint, "officer"),
    Page("POST", "/scrutineers/{member_id}/dismiss", scrutineer_dismiss, "officer"),
    Page("GET", "/ballots/{ballot_id}/register.json", register_download, "member"),
    Page("GET", "/account/keys", keys_page, "member"),
    Page("POST", "/account/keys/passkey-options", passkey_options, "member"),
    Page("POST", "/account/keys/passkeys", passkey_add, "member"),
    Page("POST", "/account/keys/files", key_file_add, "member"),
    Page("POST", "/account/keys/{key_id}/revoke", key_revoke, "member"),
]
