"""Who may do what to members: the rules the API, the CLI and CSV import all obey.

* Roles: members (0), officers (secretary, chair, treasurer, officer: 1), admins (2).
* Members see and change their own record only; officers manage ordinary members; only
  admins give or take officer and admin roles, or touch officers and admins.
* The last active admin cannot be demoted, suspended or removed: that rule is checked inside
  the write transaction (:mod:`node.storage.members`), where two admins leaving at once
  cannot both pass it.
* Text: names refuse control characters and direction overrides, emails must look like
  emails (the types in :mod:`node.storage.members`); :func:`parse` turns loose values (CLI
  arguments, a CSV row) into those types or one error naming the field.

The CLI acts as the node's operator, with an admin's rights; it obeys every other rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from node.errors import BadInput, Forbidden
from node.rules import accounts
from node.rules.accounts import Accounts
from node.rules.members_csv import parse_members_csv
from node.storage.members import OFFICER_ROLES, Member, MemberIn, MemberPatch
from node.validation import describe

T = TypeVar("T", MemberIn, MemberPatch)


def access(role: str) -> int:
    """0 for members, 1 for officers, 2 for admins."""
    return 2 if role == "admin" else 1 if role in OFFICER_ROLES else 0


def check_may_see(who: Member, member_id: int) -> None:
    if who.id != member_id and access(who.role) < 1:
        raise Forbidden("members see only their own record")


def check_may_manage(who: Member, target: Member | None, new_role: str | None) -> None:
    """Officers manage ordinary members; only admins grant roles or touch officers and admins."""
    if access(who.role) >= 2:
        return
    if new_role is not None and new_role != "member":
        raise Forbidden("only an admin gives officer or admin roles", field="role")
    if target is not None and access(target.role) >= 1 and target.id != who.id:
        raise Forbidden("only an admin changes officers and admins")


def check_may_change(who: Member, target: Member, patch: MemberPatch) -> None:
    """A change to ``target``: roles change only by an admin; the rest as :func:`check_may_manage`."""
    new_role = patch.role if isinstance(patch.role, str) else None
    if new_role is not None and new_role != target.role and access(who.role) < 2:
        raise Forbidden("only an admin changes roles", field="role")
    check_may_manage(who, target, None)


def check_may_import(who: Member, rows: list[tuple[int, MemberIn]]) -> None:
    if access(who.role) < 2 and any(m.role != "member" for _, m in rows):
        raise Forbidden("only an admin imports officers or admins", field="role")


def parse(values: dict[str, Any], kind: type[T], flag_prefix: str = "") -> T:
    """Loose values (None: not given) as a checked ``MemberIn`` or ``MemberPatch``; BadInput
    naming the field (as ``--field`` with ``flag_prefix="--"``, for the CLI) otherwise."""
    try:
        return msgspec.convert({k: v for k, v in values.items() if v is not None}, kind)
    except msgspec.ValidationError as exc:
        message, field = describe(exc)
        raise BadInput(f"{flag_prefix}{field}: {message}" if field else message, field=field) from None


# --- what an officer does, each checked here for the API and the pages alike ----------------
async def add(node: Accounts, who: Member, member: MemberIn) -> Member:
    check_may_manage(who, None, member.role)
    return await node.members.add(member)


async def change(node: Accounts, who: Member, member_id: int, patch: MemberPatch) -> Member:
    check_may_change(who, await node.members.require(member_id), patch)
    return await node.members.update(member_id, patch)  # refuses to leave no active admin


async def remove(node: Accounts, who: Member, member_id: int) -> None:
    check_may_manage(who, await node.members.require(member_id), None)
    await node.members.remove(member_id)  # refuses the last active admin (Conflict)


async def invite(node: Accounts, who: Member, member_id: int) -> accounts.Invited:
    """A one-time link for the member to set a password: mailed to them when mail is set up,
    else shown to the officer to pass on."""
    check_may_manage(who, await node.members.require(member_id), None)
    return await accounts.invite(node, member_id)


async def invite_everyone(node: Accounts, who: Member) -> int:
    """Every member never invited (and with no password), invited by mail; how many. (Each
    link goes to its member's own address: no officer sees one.)"""
    if access(who.role) < 1:
        raise Forbidden("only officers invite members")
    return await accounts.invite_everyone(node)


class CsvRejected(BadInput):
    """A members file with problems, imported not at all; ``problems`` names each line."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:50]) + (f"; and {len(problems) - 50} more" if len(problems) > 50 else "")
        super().__init__(shown, code="bad_csv")
        self.problems = problems


@dataclass(frozen=True)
class Imported:
    imported: int
    skipped: list[str]  # a line each: what was wrong with it


async def import_csv(node: Accounts, who: Member, data: bytes, *, skip_bad: bool) -> Imported:
    """Every row or none (CsvRejected naming every bad line), unless ``skip_bad``: then the
    good rows go in and the bad ones are listed."""
    parsed = parse_members_csv(data)
    if parsed.problems and not skip_bad:
        raise CsvRejected([str(p) for p in parsed.problems])
    check_may_import(who, parsed.rows)
    existing = await node.members.import_all(parsed.rows, skip_existing=skip_bad)
    return Imported(len(parsed.rows) - len(existing), [str(p) for p in parsed.problems] + existing)
