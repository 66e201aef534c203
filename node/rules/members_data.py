"""Members' data, the branch's duties and each member's rights: a member's own copy of
everything the node holds about them ("my data"); their request to be forgotten, which an
officer carries out or refuses with a reason they see. The pages, the API and the command
line all call these.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from node.errors import BadInput, Conflict, Forbidden
from node.rules.accounts import Accounts
from node.rules.members import access, check_may_manage
from node.storage.members import Member
from node.storage.members_data import ErasureRequest, MembersData

FORMAT = "branchnet member data v1"


class HoldsMembersData(Accounts, Protocol):
    members_data: MembersData


async def my_data(node: HoldsMembersData, who: Member, via: str) -> dict[str, Any]:
    """Everything the node holds about ``who``, for them (recorded as a download of their own)."""
    return await data_of(node, who, who.id, via)


async def data_of(node: HoldsMembersData, who: Member | None, member_id: int, via: str) -> dict[str, Any]:
    """Everything the node holds about a member: for themselves, or from the server's command
    line for a member who asked by letter (recorded as a download, in the copy itself)."""
    if who is not None and who.id != member_id:
        raise Forbidden("a member's copy of their data is theirs: the command line makes one for a request by letter")
    await node.members.require(member_id)
    await node.access.record(who.id if who else None, "download", via, member_id=member_id, rows=1)
    sections = await node.members_data.of(member_id)
    return {"format": FORMAT, "node": node.config.node.name, "made_at": int(time.time()), "member_id": member_id,
            **sections}  # fmt: skip


async def ask_to_be_forgotten(node: HoldsMembersData, who: Member) -> ErasureRequest:
    """The member asks; an officer carries it out or refuses with a reason they will see."""
    return await node.members_data.ask_erasure(who.id)


async def erasure_requests(node: HoldsMembersData, who: Member | None, state: str | None = None
                           ) -> list[ErasureRequest]:  # fmt: skip
    if who is not None and access(who.role) < 1:
        raise Forbidden("only officers see the requests to be forgotten")
    if state is not None and state not in ("asked", "done", "refused"):
        raise BadInput("state is one of asked, done, refused", field="state")
    return await node.members_data.requests(state)


async def erase(node: HoldsMembersData, who: Member | None, member_id: int, via: str) -> int:
    """Forget a member now (:meth:`MembersData.erase`): an officer for an ordinary member, an
    admin for an officer or admin, or the command line; recorded (by id: nothing else is left)."""
    target = await node.members.require(member_id)
    if who is not None:
        if access(who.role) < 1:
            raise Forbidden("only officers carry out an erasure")
        check_may_manage(who, target, None)
        if who.id == member_id:
            raise Conflict("another officer carries out your own erasure", code="own_erasure")
    changed = await node.members_data.erase(member_id, who.id if who else None)
    await node.access.record(who.id if who else None, "erase", via, member_id=member_id, rows=changed)
    return changed


async def carry_out(node: HoldsMembersData, who: Member | None, request_id: int, via: str) -> int:
    request = await node.members_data.require_request(request_id)
    if request.state != "asked" or request.member_id is None:
        raise Conflict("this request is not waiting for an answer", code="not_asked")
    return await erase(node, who, request.member_id, via)


async def refuse(node: HoldsMembersData, who: Member | None, request_id: int, answer: str) -> ErasureRequest:
    """Refuse with a reason the member sees (the law allows it only for a reason: say which)."""
    if who is not None and access(who.role) < 1:
        raise Forbidden("only officers answer a request to be forgotten")
    reason = answer.strip()
    if not reason or len(reason) > 2000:
        raise BadInput("say why (the member sees it), in at most 2000 characters", field="answer")
    return await node.members_data.refuse(request_id, who.id if who else None, reason)


NOTICE_FIELDS = ("controller", "contact", "dpo")  # who decides what is done with the data; how to reach them


async def privacy_notice(node: HoldsMembersData) -> dict[str, str]:
    """The privacy notice's fields, each present (empty when officers have not written it)."""
    written = await node.members_data.notice()
    return {k: written.get(k, "") for k in NOTICE_FIELDS}


async def write_privacy_notice(node: HoldsMembersData, who: Member | None, fields: dict[str, str]) -> dict[str, str]:
    """Officers say who the controller is and how members reach them (the rest of the notice
    follows from the node: what it holds, the retention rule, the members' rights)."""
    if who is not None and access(who.role) < 1:
        raise Forbidden("only officers write the privacy notice")
    cleaned = {}
    for key in NOTICE_FIELDS:
        value = fields.get(key, "").replace("\r\n", "\n").strip()
        if len(value) > 2000 or any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise BadInput("at most 2000 characters, no control characters", field=key)
        cleaned[key] = value
    if not cleaned["controller"]:
        raise BadInput("name the controller: the branch (or the party) that decides what is done with the data",
                       field="controller")  # fmt: skip
    await node.members_data.set_notice(cleaned)
    return cleaned
