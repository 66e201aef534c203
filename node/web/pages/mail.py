"""Pages about mail: a forgotten password, a link to set a new one, one-click unsubscribe,
inviting everyone by mail after an import, and the outbox as officers see it."""

from __future__ import annotations

import re

from aiohttp import web

from node.errors import BadInput, NodeError, NotFound
from node.rules import accounts
from node.rules import members as member_rules
from node.rules.notices import read_unsubscribe
from node.storage.outbox import STATES
from node.web.common import client_address, in_background, node_of, set_session_cookie
from node.web.pages.common import Page, read_form, redirect, render, text, who_of
from node.web.routes.logins import FORGOT_ANSWER
from node.web.statuses import status_of

RESET_TOKEN = re.compile(r"bnr_[A-Za-z0-9_-]{20,96}")
NOTICE_NAMES = {"ballots": "ballot notices and reminders", "decisions": "decision notices",
                "elections": "notices of elections open for candidates", "digest": "the daily digest"}  # fmt: skip


async def forgot_page(request: web.Request) -> web.StreamResponse:
    return render(request, "forgot.html", {"sent": False, "email": ""})


async def forgot(request: web.Request) -> web.StreamResponse:
    """The same page whatever the address, at once: the link is made and mailed meanwhile."""
    form = await read_form(request)
    email = text(form, "email").strip()
    if not email or len(email) > 320:
        return render(request, "forgot.html", {"sent": False, "email": email[:320],
                                               "errors": {"email": "give the email address you sign in with"}},
                      status=400)  # fmt: skip
    in_background(accounts.forgot_password(node_of(request), email, client_address(request)))
    return render(request, "forgot.html", {"sent": True, "email": "", "answer": FORGOT_ANSWER})


def _reset_token(request: web.Request) -> str:
    token = request.match_info["token"]
    if not RESET_TOKEN.fullmatch(token):
        raise NotFound("this link is not valid (used, expired or mistyped): ask for a new one")
    return token


async def reset_page(request: web.Request) -> web.StreamResponse:
    token = _reset_token(request)
    member = await node_of(request).auth.reset_member(token)
    return render(request, "reset.html", {"token": token, "good": member is not None})


async def reset(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    token = _reset_token(request)
    node = node_of(request)
    try:
        if text(form, "password") != text(form, "again"):
            raise BadInput("the two passwords differ", field="again")
        _, session = await accounts.reset_password(node, token, text(form, "password"))
    except NodeError as exc:
        good = exc.field != "token"
        errors = {exc.field: exc.message} if exc.field and good else {}
        context = {"token": token, "good": good, "errors": errors, "error": None if errors else exc.message}
        return render(request, "reset.html", context, status=status_of(exc))
    response = redirect("/account?done=password")
    set_session_cookie(response, node, session)
    return response


def _unsubscribe_of(request: web.Request) -> tuple[int, str]:
    found = read_unsubscribe(node_of(request).key.seed, request.match_info["token"])
    if found is None:
        raise NotFound("this unsubscribe link is not one this node sent (mistyped or cut short?)")
    return found


async def unsubscribe_page(request: web.Request) -> web.StreamResponse:
    member_id, notice = _unsubscribe_of(request)
    on = (await node_of(request).outbox.choices(member_id))[notice]
    return render(request, "unsubscribe.html", {"what": NOTICE_NAMES[notice], "on": on, "done": False,
                                                 "token": request.match_info["token"]})  # fmt: skip


async def unsubscribe(request: web.Request) -> web.StreamResponse:
    """One click from the mail (a mail client's POST of ``List-Unsubscribe=One-Click``, RFC
    8058, or the button of the page above): that kind of notice is off for that member."""
    await read_form(request, csrf=False)  # the token in the address is the authority
    member_id, notice = _unsubscribe_of(request)
    await node_of(request).outbox.choose(member_id, {notice: False})
    return render(request, "unsubscribe.html", {"what": NOTICE_NAMES[notice], "on": False, "done": True,
                                                "token": request.match_info["token"]})  # fmt: skip


async def invite_everyone(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    count = await member_rules.invite_everyone(node_of(request), who_of(request))
    return redirect(f"/outbox?invited={count}")


async def outbox_page(request: web.Request) -> web.StreamResponse:
    node = node_of(request)
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        raise BadInput(f"state is one of {', '.join(STATES)}", field="state")
    invited = request.query.get("invited", "")
    return render(request, "outbox.html", {
        "mails": await node.outbox.page(state, limit=100), "counts": await node.outbox.counts(), "state": state,
        "invited": int(invited) if invited.isdigit() and len(invited) < 9 else None})  # fmt: skip


PAGES = [
    Page("GET", "/password/forgot", forgot_page, "public"),
    Page("POST", "/password/forgot", forgot, "public"),
    Page("GET", "/password/reset/{token}", reset_page, "public"),
    Page("POST", "/password/reset/{token}", reset, "public"),
    Page("GET", "/notices/unsubscribe/{token}", unsubscribe_page, "public"),
    Page("POST", "/notices/unsubscribe/{token}", unsubscribe, "public"),
    Page("GET", "/outbox", outbox_page, "officer"),
]
