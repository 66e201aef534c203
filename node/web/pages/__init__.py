"""The web pages: server-rendered HTML for members and officers (Jinja2, autoescaped).

Each module has a ``PAGES`` table (method, path, handler, who may open it); forms post back
to the pages, which call the same rule layer as the API (:mod:`node.rules`). One stylesheet
and one small script, served by the node itself; no inline script or style anywhere.
"""

from __future__ import annotations

import datetime as dt
import secrets
from importlib import resources

import aiohttp_jinja2
import jinja2
from aiohttp import web

from node.web.pages import (
    account,
    decisions,
    elections,
    federation,
    keys,
    mail,
    members,
    privacy,
    public,
    rules,
    upward,
)
from node.web.pages.common import CSRF_SECRET, add_page_routes

STATIC = ("site.css", "site.js", "favicon.svg")
TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}


def when(seconds: int | None) -> str:
    """Unix seconds as a date and time (UTC), as pages show them."""
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def add_pages(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("node.web", "templates"),
        autoescape=True,  # every value is escaped unless a template says otherwise (none does)
        undefined=jinja2.StrictUndefined,  # a misspelt name fails a test instead of showing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are part of the installed package: no stat() per page
    )
    env.filters["when"] = when
    app[CSRF_SECRET] = secrets.token_bytes(32)
    app[members.TABLES] = members.RenderedTables()
    add_page_routes(app, [*account.PAGES, *members.PAGES, *federation.PAGES, *decisions.PAGES, *upward.PAGES,
                          *elections.PAGES, *mail.PAGES, *public.PAGES, *privacy.PAGES, *rules.PAGES, *keys.PAGES])
    folder = resources.files("node.web") / "static"
    for name in STATIC:
        body = folder.joinpath(name).read_bytes()
        content_type = TYPES[name.rsplit(".", 1)[1]]

        async def asset(request: web.Request, body: bytes = body, content_type: str = content_type) -> web.Response:
            return web.Response(
                body=body,
                content_type=content_type,
                charset="utf-8",
                headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
            )

        app.router.add_get(f"/static/{name}", asset)
        if name == "favicon.svg":
            app.router.add_get("/favicon.ico", asset)  # browsers ask for it whatever the page says
