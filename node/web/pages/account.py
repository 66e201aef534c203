"""A member's own pages: the start page, signing in and out, invites, password, details, tokens."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from aiohttp import web

from node.errors import BadInput, NodeError
from node.federation import authority
from node.rules import accounts
from node.rules import members as member_rules
from node.rules.members import access
from node.storage.members import MemberPatch
from node.storage.outbox import NOTICE_KINDS
from node.validation import whole_number
from node.web.common import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    client_address,
    int_param,
    node_of,
    set_device_cookie,
    set_session_cookie,
)
from node.web.pages.common import (
    Page,
    checked,
    read_form,
    redirect,
    render,
    safe_next,
    signed_in,
    text,
    who_of,
)
from node.web.pages.waiting import ballot_kind, mandates_due, open_to_candidates, recent_decisions
from node.web.statuses import status_of

TOKEN = re.compile(r"bni_[A-Za-z0-9_-]{20,96}")  # as storage.logins.new_secret makes them
NOTICES = {
    "password": "Your password is changed. You are signed out everywhere else.",
    "saved": "Saved.",
    "revoked": "The token is revoked.",
    "signed-out": "You are signed out.",
}


def notice(request: web.Request) -> str | None:
    """A fixed message chosen by a code in the address (never text from the address)."""
    return NOTICES.get(request.query.get("done", ""))


def form_error(request: web.Request, template: str, exc: NodeError, context: dict[str, object]) -> web.Response:
    """The form again, with the error beside its field (or at the top)."""
    errors = {exc.field: exc.message} if exc.field else {}
    problem = "Please correct the marked field." if exc.field else exc.message
    response = render(request, template, {**context, "errors": errors, "error": problem}, status=status_of(exc))
    if getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(getattr(exc, "retry_after", ""))
    return response


async def home(request: web.Request) -> web.StreamResponse:
    who = signed_in(request)
    if who is None:
        return render(
            request,
            "signin.html",
            {"next": safe_next(request.query.get("next")), "email": "", "errors": {}, "notice": notice(request)},
        )
    node = node_of(request)
    motions = await node.motions.recent(200)
    context: dict[str, object] = {
        "notice": notice(request),
        "waiting": [(row, voted, ballot_kind(row)) for row, voted in await node.ballots.waiting(who.id)],
        "amendable": [m for m in motions if m.state == "admitted"],
        "decided": await recent_decisions(node, 5),
        "candidates_wanted": await open_to_candidates(node, int(time.time() * 1000)),
        "now_ms": int(time.time() * 1000),
        "acted_on": authority.acted_on(node),
        "frozen_by": authority.frozen_by(node),
    }
    if access(who.role) >= 1:
        context["member_count"] = await node.members.count()
        context["pending_joins"] = len(await node.joins.list("pending", 0, 100))
        context["to_admit"] = [m for m in motions if m.state == "submitted"]
        context["open_ballots"] = [(row, turnout, ballot_kind(row)) for row, turnout in await node.ballots.open_ones()]
        context["mail_failed"] = (await node.outbox.counts())["failed"]
        context["mandates_due"] = await mandates_due(node, int(time.time() * 1000))
    return render(request, "home.html", context)


async def _end_old_session(request: web.Request) -> None:
    """A new session at every sign-in (and invite): the one the browser had ends, so a
    session planted before signing in is worth nothing."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await node_of(request).auth.end_session(old)


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node = node_of(request)
    email, go_on = text(form, "email").strip(), safe_next(text(form, "next"))
    try:
        _, session, device = await accounts.sign_in(node, email, text(form, "password"), client_address(request),
                                                    request.cookies.get(DEVICE_COOKIE))  # fmt: skip
    except NodeError as exc:
        return form_error(request, "signin.html", exc, {"next": go_on, "email": email})
    await _end_old_session(request)
    response = redirect(go_on)
    set_session_cookie(response, node, session)
    set_device_cookie(response, node, device)
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await node_of(request).auth.end_session(token)
    response = redirect("/?done=signed-out")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def invite_start(request: web.Request) -> web.StreamResponse:
    return render(request, "invite.html", {"token": None, "errors": {}})


async def invite_open(request: web.Request) -> web.StreamResponse:
    """A pasted link (or the part after ``/invite/`` or ``#``): on to its page."""
    link = request.query.get("link", "").strip()
    token = urlsplit(link).path.rsplit("/", 1)[-1] if "/invite/" in link else link.rsplit("#", 1)[-1]
    if not TOKEN.fullmatch(token):
        error = BadInput(
            "that is not an invite link; it starts with your node's address and has /invite/ in it", field="link"
        )
        return form_error(request, "invite.html", error, {"token": None})
    return redirect(f"/invite/{token}")


async def invite_page(request: web.Request) -> web.StreamResponse:
    return render(request, "invite.html", {"token": request.match_info["token"], "errors": {}})


async def invite_accept(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node = node_of(request)
    token = request.match_info["token"]
    try:
        if text(form, "password") != text(form, "again"):
            raise BadInput("the two passwords differ", field="again")
        _, session = await accounts.accept_invite(node, token, text(form, "password"))
    except NodeError as exc:
        if exc.field == "token":
            exc = BadInput(exc.message)  # not a field of this form
        return form_error(request, "invite.html", exc, {"token": token})
    await _end_old_session(request)
    response = redirect("/")
    set_session_cookie(response, node, session)
    return response


async def password_page(request: web.Request) -> web.StreamResponse:
    return render(request, "password.html", {"errors": {}})


async def password_change(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who = node_of(request), who_of(request)
    try:
        if text(form, "new") != text(form, "again"):
            raise BadInput("the two new passwords differ", field="again")
        await accounts.change_password(node, who, text(form, "current"), text(form, "new"), client_address(request))
    except NodeError as exc:
        return form_error(request, "password.html", exc, {})
    response = redirect("/account?done=password")
    set_session_cookie(response, node, await accounts.new_session(node, who.id))
    return response


async def account_page(request: web.Request) -> web.StreamResponse:
    notices = await node_of(request).outbox.choices(who_of(request).id)
    return render(request, "account.html", {"name": who_of(request).name, "errors": {}, "notice": notice(request),
                                            "notices": notices})  # fmt: skip


async def account_save(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who = node_of(request), who_of(request)
    name = text(form, "name")
    try:
        patch = member_rules.parse(
            {
                "name": name,
                "consent_contact": checked(form, "consent_contact"),
                "consent_publish_name": checked(form, "consent_publish_name"),
            },
            MemberPatch,
        )
        await node.members.update(who.id, patch)  # what members may change about themselves, as PATCH /api/v1/me
        await node.outbox.choose(who.id, {kind: checked(form, f"notice_{kind}") for kind in NOTICE_KINDS})
    except NodeError as exc:
        return form_error(request, "account.html", exc, {"name": name, "notices": await node.outbox.choices(who.id)})
    return redirect("/account?done=saved")


async def _tokens_context(request: web.Request) -> dict[str, object]:
    node = node_of(request)
    return {
        "tokens": await node.auth.list_tokens(who_of(request).id),
        "cap": node.config.auth.token_max_days or None,
        "created": None,
        "created_secret": None,
    }


async def tokens_page(request: web.Request) -> web.StreamResponse:
    return render(request, "tokens.html", {**await _tokens_context(request), "errors": {}, "notice": notice(request)})


async def token_create(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who = node_of(request), who_of(request)
    try:
        name = text(form, "name").strip()
        days_text = text(form, "expires_days").strip()
        if not name or len(name) > 100:
            raise BadInput("give the token a name of 1 to 100 characters", field="name")
        days = whole_number(days_text, 1, 3650) if days_text else None
        if days_text and days is None:
            raise BadInput("a whole number of days from 1 to 3650", field="expires_days")
        token, secret = await accounts.create_token(node, who, name, days)
    except NodeError as exc:
        return form_error(request, "tokens.html", exc, await _tokens_context(request))
    context = {**await _tokens_context(request), "errors": {}, "created": token, "created_secret": secret}
    return render(request, "tokens.html", context, status=201)


async def token_revoke(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    await node_of(request).auth.delete_token(who_of(request).id, int_param(request, "token_id"))
    return redirect("/account/tokens?done=revoked")


PAGES = [
    Page("GET", "/", home, "public"),
    Page("POST", "/signin", sign_in, "public"),
    Page("POST", "/signout", sign_out, "public"),
    Page("GET", "/invite", invite_start, "public"),
    Page("GET", "/invite/open", invite_open, "public"),
    Page("GET", "/invite/{token}", invite_page, "public"),
    Page("POST", "/invite/{token}", invite_accept, "public"),
    Page("GET", "/account", account_page, "member"),
    Page("POST", "/account", account_save, "member"),
    Page("GET", "/account/password", password_page, "member"),
    Page("POST", "/account/password", password_change, "member"),
    Page("GET", "/account/tokens", tokens_page, "member"),
    Page("POST", "/account/tokens", token_create, "member"),
    Page("POST", "/account/tokens/{token_id}/revoke", token_revoke, "member"),
]
