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

Who looked: every officer's view of a member's record, listing or search of the members,
export and import goes through :func:`look`, :func:`listing`, :func:`export` and
:func:`import_csv` here, which record it (:mod:`node.storage.access`; who, when, what, how many
rows; ``via`` the page, the API or the command line, whose actor is None). A member reading
their own record is not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from node.errors import BadInput, Forbidden
from node.rules import accounts
from node.rules.accounts import Accounts
from node.rules.members_csv import parse_members_csv
from node.storage.access import Access
from node.storage.members import OFFICER_ROLES, Member, MemberIn, MemberPatch
from node.validation import describe

T = TypeVar("T", MemberIn, MemberPatch)


def access(role: str) -> int:
    """0 for members, 1 for officers, 2 for admins."""
    return 2 if role == "admin" else 1 if role in OFFICER_ROLES else 0


def check_may_see(who: Member, member_id: int) -> None:
    if who.id != member_id and access(who.role) < 1:
        raise Forbidden("members see only their own record")


async def look(node: Accounts, who: Member | None, member_id: int, via: str) -> Member:
    """A member's record, for ``who`` (None: the command line); recorded unless it is their own."""
    if who is not None:
        check_may_see(who, member_id)
    member = await node.members.require(member_id)
    if who is None or who.id != member_id:
        await node.access.record(who.id if who else None, "view", via, member_id=member_id, rows=1)
    return member


async def listing(node: Accounts, who: Member | None, status: str | None, via: str) -> list[Member]:
    """Every member (of ``status``), for an officer or the command line; recorded."""
    if who is not None and access(who.role) < 1:
        raise Forbidden("only officers list the members")
    members = await node.members.list(status)
    await node.access.record(who.id if who else None, "search", via, rows=len(members))
    return members


async def record_search(node: Accounts, who: Member, rows: int, via: str) -> None:
    """A page of a search of the members shown to an officer (the page renders its own table;
    the record is committed with the next batch, without holding the page back)."""
    await node.access.record(who.id, "search", via, rows=rows, wait=False)


async def export(node: Accounts, who: Member | None, via: str) -> list[Member]:
    """Every member, to be written out as a file; recorded with how many rows left the node."""
    if who is not None and access(who.role) < 1:
        raise Forbidden("only officers export the members")
    members = await node.members.list()
    await node.access.record(who.id if who else None, "export", via, rows=len(members))
    return members


async def who_looked(node: Accounts, who: Member | None, *, member_id: int | None = None,
                     before: int | None = None, limit: int = 100) -> list[Access]:  # fmt: skip
    """The access record, newest first: all of it for an admin or the command line, only the
    accesses to their own record for anyone else."""
    if who is not None and access(who.role) < 2 and member_id != who.id:
        raise Forbidden("only admins read the whole access record; you may read who looked at your own")
    if not 1 <= limit <= 500:
        raise BadInput("limit is 1 to 500", field="limit")
    return await node.access.page(member_id=member_id, before=before, limit=limit)


async def actors(node: Accounts, rows: list[Access]) -> list[str]:
    """Who made each access, by name as it is now ("the command line" on the server; "a
    former member" once erased or removed)."""
    names: dict[int, str] = {}
    for actor in {r.actor_id for r in rows if r.actor_id is not None}:
        member = await node.members.get(actor)
        names[actor] = member.name if member is not None else "a former member"
    return ["the command line" if r.actor_id is None else names[r.actor_id] for r in rows]


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


async def import_csv(node: Accounts, who: Member, data: bytes, *, skip_bad: bool, via: str) -> Imported:
    """Every row or none (CsvRejected naming every bad line), unless ``skip_bad``: then the
    good rows go in and the bad ones are listed. Recorded with how many rows went in."""
    parsed = parse_members_csv(data)
    if parsed.problems and not skip_bad:
        raise CsvRejected([str(p) for p in parsed.problems])
    imported, existing = await import_rows(node, who, parsed.rows, skip_existing=skip_bad, via=via)
    return Imported(imported, [str(p) for p in parsed.problems] + existing)


async def import_rows(node: Accounts, who: Member | None, rows: list[tuple[int, MemberIn]], *, skip_existing: bool,
                      via: str) -> tuple[int, list[str]]:  # fmt: skip
    """Parsed rows into the members, all or none (``skip_existing``: but those already here);
    how many went in, and a note for each skipped. Recorded with how many went in."""
    if who is not None:
        check_may_import(who, rows)
    existing = await node.members.import_all(rows, skip_existing=skip_existing)
    imported = len(rows) - len(existing)
    await node.access.record(who.id if who else None, "import", via, rows=imported)
    return imported, existing
