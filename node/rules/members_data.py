"""Members' data, the branch's duties and each member's rights: a member's own copy of
everything the node holds about them ("my data"). The pages, the API and the command line
all call these.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from node.rules.accounts import Accounts
from node.storage.members import Member
from node.storage.members_data import MembersData

FORMAT = "branchnet member data v1"


class HoldsMembersData(Accounts, Protocol):
    members_data: MembersData


async def my_data(node: HoldsMembersData, who: Member, via: str) -> dict[str, Any]:
    """Everything the node holds about ``who``, for them (recorded as a download of their own)."""
    await node.access.record(who.id, "download", via, member_id=who.id, rows=1)  # (in the copy itself)
    sections = await node.members_data.of(who.id)
    return {"format": FORMAT, "node": node.config.node.name, "made_at": int(time.time()), "member_id": who.id,
            **sections}  # fmt: skip
