"""What every page uses: who is signed in, the CSRF token, forms, rendering, errors as HTML.

* **Who**: the session cookie only (API tokens are for programs). A suspended member is
  shown as signed out.
* **CSRF**: every form that changes something carries a token, an HMAC (with a secret this
  process drew at start) of the session cookie, or, before signing in, of a random
  ``bn_form`` cookie. A post without the right token, or whose ``Origin`` is another site,
  is refused before anything is read or written. Sessions are ``SameSite=Lax`` and
  ``HttpOnly``; GET never changes anything.
* **Headers**: a Content-Security-Policy allowing only this node's own script and style
  (no inline script or style anywhere), no framing, no referrer (invite links carry a
  secret in their path), and no caching of pages that show personal data.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from node.errors import BadInput, DatabaseError, Forbidden, NodeError, Throttled, TooLarge
from node.federation.own_log import ACTING
from node.federation.participations import SignedIn
from node.federation.participations import signed_in as parsed_signature
from node.rules.members import access
from node.storage.members import Member
from node.web.common import MEMBER_ID, NODE, SESSION_COOKIE, node_of, same_origin
from node.web.statuses import status_of

FORM_COOKIE = "bn_form"
WHO = web.RequestKey("who", Member)
NEW_BINDING = web.RequestKey("new_binding", str)  # a first visit: the bn_form cookie to set
CSRF_SECRET = web.AppKey("csrf_secret", bytes)
PAGE_SIZE = 50
PageAccess = Literal["public", "member", "officer", "admin"]
LEVEL: dict[str, int] = {"public": -1, "member": 0, "officer": 1, "admin": 2}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    handler: PageHandler
    access: PageAccess


def who_of(request: web.Request) -> Member:
    """The signed-in member (pages with access above ``public`` always have one)."""
    return request[WHO]


def signed_in(request: web.Request) -> Member | None:
    return request.get(WHO)


async def _session_member(request: web.Request) -> Member | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    member = await node_of(request).auth.session_member(cookie)
    return member if member is not None and member.status != "suspended" else None


def _binding(request: web.Request) -> str:
    """What the token is bound to, as the browser sent it."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(FORM_COOKIE) or ""


def csrf_token(request: web.Request, binding: str | None = None) -> str:
    binding = binding or _binding(request) or request.get(NEW_BINDING, "")
    mac = hmac.digest(request.app[CSRF_SECRET], b"form:" + binding.encode(), "sha256")
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _check_csrf(request: web.Request, form: Form) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null" and not same_origin(request, origin):
        raise Forbidden("this form was sent from another site", code="cross_site")
    sent = form.get("csrf")
    binding = _binding(request)
    if not isinstance(sent, str) or not binding or not hmac.compare_digest(sent, csrf_token(request, binding)):
        raise Forbidden(
            "this form has expired or came from another site; reload the page and try again", code="bad_form_token"
        )


async def read_form(request: web.Request, *, csrf: bool = True) -> Form:
    """The posted form (URL-encoded or multipart), within the server's body limit and
    deadline, its CSRF token checked (but where a secret in the address is the authority:
    the one-click unsubscribe a mail client posts, RFC 8058)."""
    http = node_of(request).config.http
    try:
        async with asyncio.timeout(http.body_timeout_s):
            form = await request.post()
    except TimeoutError:
        raise BadInput(f"the form did not arrive within {http.body_timeout_s:g} s", code="timeout") from None
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge(f"the form is over the limit of {http.max_body_bytes} bytes") from None
    except ValueError as exc:  # a malformed multipart body
        raise BadInput(f"the form could not be read: {exc}", code="bad_request") from None
    if csrf:
        _check_csrf(request, form)
    return form


def text(form: Form, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value if isinstance(value, str) else default


def signed_from(form: Form, field: str = "participation") -> SignedIn | None:
    """The passkey's signature a form carries (site.js fills in its hidden ``p_`` fields before
    it goes: a vote's participation, a candidacy's consent), if any."""
    if not text(form, "p_signature"):
        return None
    return parsed_signature(text(form, "p_signature"), text(form, "p_authenticator_data"), text(form, "p_client_data"),
                  credential=text(form, "p_credential") or None, field=field)  # fmt: skip


def checked(form: Form, name: str) -> bool:
    return text(form, name) in ("on", "yes", "1", "true")


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    node = node_of(request)
    who = signed_in(request)
    values = {
        "who": who,
        "officer": who is not None and access(who.role) >= 1,
        "admin": who is not None and access(who.role) >= 2,
        "csrf": csrf_token(request),
        "node_name": node.config.node.name,
        "node_level": node.config.node.level,
        "mail_on": node.config.mail.enabled,
        "path": request.path,
        "section": _section(request.path),
        "notice": None,
        "error": None,
        "problems": None,
        "errors": {},
        **(context or {}),
    }
    html = aiohttp_jinja2.get_env(request.app).get_template(template).render(values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


_SECTIONS = {"motions": "motions", "ballots": "motions", "account": "account", "members": "members",
             "federation": "federation", "agenda": "agenda", "campaigns": "campaigns", "elections": "elections",
             "selections": "elections", "decisions": "decisions", "outbox": "members"}  # fmt: skip


def _section(path: str) -> str:
    """Which part of the main navigation a page is in (marked as the current one)."""
    return _SECTIONS.get(path[1:].split("/", 1)[0], "")


def redirect(location: str) -> web.Response:
    """303 See Other: after a post, the browser gets the page with GET (reloading it posts nothing)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def safe_next(value: str | None) -> str:
    """A path on this node to go on to after signing in (never another site)."""
    if (value and len(value) <= 2000 and value.startswith("/") and not value.startswith("//")
            and "\\" not in value and value.isprintable()):  # fmt: skip
        return value
    return "/"


def wants_html(request: web.Request) -> bool:
    """A browser asking for a page (not the API, the federation or a program)."""
    path = request.path
    if path.startswith(("/api/", "/fed/", "/metrics", "/healthz")):
        return False
    return "text/html" in request.headers.get("Accept", "")


def error_page(request: web.Request, exc: NodeError, status: int | None = None) -> web.Response:
    status = status or (503 if isinstance(exc, DatabaseError) else status_of(exc))
    message = (
        "The node cannot store anything right now; try again later." if isinstance(exc, DatabaseError) else exc.message
    )
    response = render(request, "error.html", {"status": status, "message": message}, status=status)
    if isinstance(exc, Throttled):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def guard(page: Page) -> PageHandler:
    """Who may open the page; a signed-out visitor is sent to sign in and brought back."""
    required = LEVEL[page.access]

    async def handler(request: web.Request) -> web.StreamResponse:
        who = await _session_member(request)
        if who is not None:
            request[WHO] = who
            request[MEMBER_ID] = who.id
        if not _binding(request):  # a first visit: a random cookie for form tokens to stand on
            request[NEW_BINDING] = secrets.token_urlsafe(24)
        acting = ACTING.set(who.id if who is not None else None)  # what it signs counts to this member
        try:
            response = await _answer(request, who)
        finally:
            ACTING.reset(acting)
        if NEW_BINDING in request and not response.prepared:
            response.set_cookie(
                FORM_COOKIE,
                request[NEW_BINDING],
                httponly=True,
                samesite="Lax",
                path="/",
                secure=node_of(request).config.auth.secure_cookies,
            )
        return response

    async def _answer(request: web.Request, who: Member | None) -> web.StreamResponse:
        try:
            if required >= 0:
                if who is None:
                    return redirect("/?" + urlencode({"next": request.path_qs}) if request.method == "GET" else "/")
                if access(who.role) < required:
                    raise Forbidden(f"this page needs the {page.access} role")
            return await page.handler(request)
        except NodeError as exc:
            return error_page(request, exc)

    handler.__name__ = page.handler.__name__
    return handler


def add_page_routes(app: web.Application, pages: list[Page]) -> None:
    for page in pages:
        app.router.add_route(page.method, page.path, guard(page))


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


__all__ = ["NODE", "Page", "add_page_routes"]
