"""The federation's rules page: the rules in force and since when, each change put to the
founding body's children and what became of it, the freezes in force; and, for the founding
body's officers, the form that puts a change to the children (node/federation/rules_change.py)."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from aiohttp import web

from node.errors import BadInput, NodeError
from node.federation import rules_change
from node.validation import share, whole_number
from node.web.common import node_of
from node.web.pages.account import form_error
from node.web.pages.common import Page, read_form, redirect, render, text, who_of
from protocol import node_id_text
from protocol.authority import FREEZE_DAYS, amendment_rules, rules_text
from protocol.models import Rules

PREFIX = "Change the federation's rules to: "


async def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    node = node_of(request)
    trust = node.federation_state.trust
    me = trust.bodies.get(node.key.public) if trust is not None else None
    changes = [{"item": r.item.hex(), "text": rules_text(msgspec.msgpack.decode(r.rules, type=Rules)).removeprefix(
        PREFIX), "state": r.state, "why": r.why, "signed": r.signed.hex() if r.signed else None}
        for r in await node.rule_changes.recent(20)]  # fmt: skip
    frozen = [{"name": trust.name_of(k) or node_id_text(k), "by": trust.name_of(f.by) or node_id_text(f.by),
               "until": f.until // 1000, "reason": f.reason, "freeze": f.freeze.hex()}
              for k, f in sorted(trust.frozen.items())] if trust is not None else []  # fmt: skip
    amending = amendment_rules(trust.rules) if trust is not None else None
    return {
        "federated": trust is not None,
        "in_force": rules_text(trust.rules).removeprefix(PREFIX) if trust is not None else "",
        "history": [(since // 1000, envelope.hex()) for since, envelope, _ in trust.history[1:]] if trust else [],
        "changes": changes,
        "frozen": frozen,
        "founding": me is not None and me.parent is None,
        "amend": f"{amending.threshold.num}/{amending.threshold.den}" if amending else "",
        "proposal": {"quorum": "", "threshold": "", "freeze_days": "", "days": "7"},
        "errors": {},
        "form": None,
        "notice": "Put to the children: each votes and sends its mandate; once it is aggregated, this node signs "
                  "the change if it is carried." if request.query.get("done") == "proposed" else None,
        "freeze_default": FREEZE_DAYS,
        **extra,
    }


async def rules_page(request: web.Request) -> web.StreamResponse:
    return render(request, "rules.html", await _context(request))


def _share(value: str, field: str) -> dict[str, int]:
    found = share(value)
    if found is None:
        raise BadInput("a share as N/D, such as 1/3", field=field)
    return found


async def propose(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {k: text(form, k).strip() for k in ("quorum", "threshold", "freeze_days", "days")}
    try:
        changes: dict[str, Any] = {k: _share(values[k], k) for k in ("quorum", "threshold") if values[k]}
        if values["freeze_days"]:
            days = whole_number(values["freeze_days"], 1, 90)
            if days is None:
                raise BadInput("the longest freeze: a whole number of days from 1 to 90", field="freeze_days")
            changes["freeze_days"] = days
        if not changes:
            raise BadInput("say what changes: the quorum, the threshold or the longest freeze", field="quorum")
        window = whole_number(values["days"], 1, 60)
        if window is None:
            raise BadInput("how many days the children have: a whole number from 1 to 60", field="days")
        closes = int((time.time() + window * 86_400) * 1000)
        item = await rules_change.propose(node_of(request), who_of(request), changes, closes)
    except NodeError as exc:
        return form_error(request, "rules.html", exc, await _context(request, proposal=values, form="proposal"))
    return redirect(f"/agenda/{item.id.hex()}?done=proposed")


PAGES = [
    Page("GET", "/federation/rules", rules_page, "member"),
    Page("POST", "/federation/rules", propose, "officer"),
]
