"""The HTTP API under /api/v1: one table of routes, each with its access rule and types.

The table (:data:`ROUTES`) is the single source for the router, the authorisation check
and the OpenAPI document, so they cannot drift apart. Access levels:

* ``public``: anyone;
* ``member``: any signed-in member (a handler may further limit to the member's own data);
* ``officer``: secretary, chair, treasurer, officer or admin;
* ``admin``: admins only.

Handlers receive the request and the signed-in member (or None) and trust their types:
bodies are parsed by :func:`read_json` into msgspec Structs at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from node.storage.joins import JoinView
from node.storage.members import Member, MemberIn, MemberPatch
from node.web.common import Handler
from node.web.routes.ballots import (
    BallotIn,
    BallotView,
    Closed,
    Receipt,
    ReceiptCheck,
    ReceiptIn,
    RollProofView,
    VoteIn,
    cast_vote,
    check_receipt,
    close_ballot,
    get_ballot,
    list_ballots,
    open_ballot,
    publish_roll,
    roll_proof,
)
from node.web.routes.federation import (
    Appended,
    CharterIn,
    ProfileIn,
    RevocationIn,
    approve_join,
    create_charter,
    create_revocation,
    list_joins,
    publish_profile,
    refuse_join,
)
from node.web.routes.logins import (
    AcceptInvite,
    Login,
    PasswordChange,
    TokenCreated,
    TokenIn,
    TokenOut,
    accept_invite,
    change_password,
    create_token,
    delete_token,
    list_tokens,
    login,
    logout,
)
from node.web.routes.members import (
    ImportResult,
    Invite,
    MePatch,
    add_member,
    delete_member,
    get_member,
    import_members,
    invite_member,
    list_members,
    me,
    patch_me,
    patch_member,
)
from node.web.routes.motions import (
    AmendmentIn,
    AmendmentView,
    BallotRulesIn,
    CommentIn,
    CommentView,
    MotionIn,
    MotionView,
    Reason,
    accept_amendment,
    admit,
    amend,
    amendment_ballot,
    comment,
    get_motion,
    list_motions,
    motion_ballot,
    propose,
    refer,
    remit,
    rule_out,
    submit,
    withdraw,
    withdraw_amendment,
)
from node.web.routes.node import Health, NodeInfo, get_envelope, health, node_info
from node.web.routes.upward import (
    AnswerIn,
    CampaignIn,
    CampaignView,
    CompositeIn,
    DelegatesIn,
    FlaggedView,
    ItemIn,
    ItemReportView,
    ItemView,
    MandateIn,
    PledgeIn,
    RulingIn,
    SubmissionView,
    SubmitIn,
    aggregate_item,
    answer_composite,
    ballot_on_item,
    get_item,
    issue_mandate,
    list_agenda,
    list_campaigns,
    list_findings,
    list_submissions,
    pledge,
    propose_composite,
    publish_campaign,
    record_delegates,
    rule_out_submission,
    submit_upward,
    table_item,
)

Access = Literal["public", "member", "officer", "admin"]
LEVEL: dict[str, int] = {"public": -1, "member": 0, "officer": 1, "admin": 2}


# --- the table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    request: type | None = None
    response: Any = None
    status: int = 200
    request_type: str = "application/json"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health, "public", "Liveness and database check", response=Health),
    Route("GET", "/api/v1/node", node_info, "public", "This node: id, name, level, heads", response=NodeInfo),
    Route("GET", "/api/v1/envelopes/{id}", get_envelope, "public", "One stored envelope (bytes, or ?format=json)"),
    Route("POST", "/api/v1/auth/login", login, "public", "Sign in; sets the session cookie", Login, Member),
    Route(
        "POST", "/api/v1/auth/invite", accept_invite, "public", "Set a password from an invite", AcceptInvite, Member
    ),
    Route("POST", "/api/v1/auth/logout", logout, "member", "End this session", status=204),
    Route("GET", "/api/v1/me", me, "member", "The signed-in member", response=Member),
    Route("PATCH", "/api/v1/me", patch_me, "member", "Change own name or consents", MePatch, Member),
    Route("POST", "/api/v1/me/password", change_password, "member", "Change own password", PasswordChange, status=204),
    Route("GET", "/api/v1/tokens", list_tokens, "member", "Own API tokens", response=list[TokenOut]),
    Route("POST", "/api/v1/tokens", create_token, "member", "New API token (shown once)", TokenIn, TokenCreated, 201),
    Route("DELETE", "/api/v1/tokens/{token_id}", delete_token, "member", "Revoke an own API token", status=204),
    Route("GET", "/api/v1/members", list_members, "officer", "All members (?status=)", response=list[Member]),
    Route("POST", "/api/v1/members", add_member, "officer", "Add a member", MemberIn, Member, 201),
    Route(
        "POST",
        "/api/v1/members/import",
        import_members,
        "officer",
        "Import members from CSV (?skip_bad=1)",
        response=ImportResult,
        request_type="text/csv",
    ),
    Route(
        "GET",
        "/api/v1/members/{member_id}",
        get_member,
        "member",
        "One member (own record, or officers)",
        response=Member,
    ),
    Route("PATCH", "/api/v1/members/{member_id}", patch_member, "officer", "Change a member", MemberPatch, Member),
    Route("DELETE", "/api/v1/members/{member_id}", delete_member, "officer", "Remove a member", status=204),
    Route(
        "POST",
        "/api/v1/members/{member_id}/invite",
        invite_member,
        "officer",
        "Invite link for a member",
        response=Invite,
        status=201,
    ),
    Route(
        "GET",
        "/api/v1/joins",
        list_joins,
        "officer",
        "Join requests from other nodes, a page at a time (?status=&after=ID&limit=N)",
        response=list[JoinView],
    ),
    Route(
        "POST",
        "/api/v1/joins/{join_id}/approve",
        approve_join,
        "officer",
        "Approve: sign a charter",
        response=Appended,
        status=201,
    ),
    Route("POST", "/api/v1/joins/{join_id}/refuse", refuse_join, "officer", "Refuse a join request", status=204),
    Route(
        "POST", "/api/v1/charters", create_charter, "officer", "Charter a child node (signed)", CharterIn, Appended, 201
    ),
    Route(
        "POST",
        "/api/v1/revocations",
        create_revocation,
        "officer",
        "Revoke a descendant's key (signed)",
        RevocationIn,
        Appended,
        201,
    ),
    Route("POST", "/api/v1/motions", propose, "member", "Propose a motion", MotionIn, MotionView, 201),
    Route("GET", "/api/v1/motions", list_motions, "member", "Recent motions", response=list[MotionView]),
    Route(
        "GET",
        "/api/v1/motions/{motion_id}",
        get_motion,
        "member",
        "A motion, its amendments and debate",
        response=MotionView,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/submit",
        submit,
        "member",
        "Submit a draft (the mover)",
        response=MotionView,
    ),
    Route("POST", "/api/v1/motions/{motion_id}/admit", admit, "officer", "Admit a motion", response=MotionView),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/rule-out",
        rule_out,
        "officer",
        "Rule a motion out, saying why",
        Reason,
        MotionView,
    ),
    Route("POST", "/api/v1/motions/{motion_id}/refer", refer, "officer", "Refer a motion", Reason, MotionView),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/withdraw",
        withdraw,
        "member",
        "Withdraw a motion (the mover)",
        response=MotionView,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/amendments",
        amend,
        "member",
        "Propose an amendment",
        AmendmentIn,
        AmendmentView,
        201,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/comments",
        comment,
        "member",
        "Comment (stays on this node)",
        CommentIn,
        CommentView,
        201,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/ballot",
        motion_ballot,
        "officer",
        "Open the ballot on the motion as amended",
        BallotRulesIn,
        BallotView,
        201,
    ),
    Route(
        "POST",
        "/api/v1/amendments/{amendment_id}/accept",
        accept_amendment,
        "member",
        "Accept an amendment (the mover): folded in without a vote",
        response=AmendmentView,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/remit",
        remit,
        "member",
        "Remit a motion (the mover agrees)",
        response=MotionView,
    ),
    Route(
        "POST",
        "/api/v1/amendments/{amendment_id}/withdraw",
        withdraw_amendment,
        "member",
        "Withdraw an amendment (whoever proposed it)",
        response=AmendmentView,
    ),
    Route(
        "POST",
        "/api/v1/amendments/{amendment_id}/ballot",
        amendment_ballot,
        "officer",
        "Open the ballot on an amendment",
        BallotRulesIn,
        BallotView,
        201,
    ),
    Route(
        "POST", "/api/v1/ballots", open_ballot, "officer", "Open a ballot (signs its roll)", BallotIn, BallotView, 201
    ),
    Route(
        "POST",
        "/api/v1/rolls",
        publish_roll,
        "officer",
        "Sign a roll of the members now (count only)",
        response=Closed,
        status=201,
    ),
    Route("GET", "/api/v1/ballots", list_ballots, "member", "Recent ballots", response=list[BallotView]),
    Route("GET", "/api/v1/ballots/{ballot_id}", get_ballot, "member", "One ballot", response=BallotView),
    Route(
        "POST",
        "/api/v1/ballots/{ballot_id}/votes",
        cast_vote,
        "member",
        "Vote; the receipt is shown once",
        VoteIn,
        Receipt,
        201,
    ),
    Route(
        "POST",
        "/api/v1/ballots/{ballot_id}/close",
        close_ballot,
        "officer",
        "Close: count, sign and publish the decision",
        response=Closed,
        status=201,
    ),
    Route(
        "POST",
        "/api/v1/ballots/{ballot_id}/receipt-check",
        check_receipt,
        "member",
        "Whether the decision counted this receipt, and as what (in the body: no log or proxy sees it)",
        ReceiptIn,
        ReceiptCheck,
    ),
    Route(
        "GET",
        "/api/v1/ballots/{ballot_id}/roll-proof",
        roll_proof,
        "member",
        "My place on the ballot's roll (salt, index, audit path)",
        response=RollProofView,
    ),
    Route("POST", "/api/v1/submissions", submit_upward, "officer", "Submit a motion this body carried to the body "
          "above it was meant for (signed)", SubmitIn, Appended, 201),
    Route("GET", "/api/v1/submissions", list_submissions, "member", "Submissions to this body, with where each "
          "stands", response=list[SubmissionView]),
    Route("POST", "/api/v1/submissions/{submission_id}/ruling", rule_out_submission, "officer",
          "Rule a submission out, saying why (signed)", RulingIn, Appended, 201),
    Route("POST", "/api/v1/composites", propose_composite, "officer", "Propose a composite of two or more "
          "submissions (signed)", CompositeIn, Appended, 201),
    Route("POST", "/api/v1/composites/{composite_id}/answer", answer_composite, "officer", "Consent to, refuse "
          "or withdraw from a composite of this body's submission (signed)", AnswerIn, Appended, 201),
    Route("POST", "/api/v1/agenda", table_item, "officer", "Table an agenda item for this body's children "
          "(signed)", ItemIn, Appended, 201),
    Route("GET", "/api/v1/agenda", list_agenda, "member", "Agenda items of this body and the bodies above it",
          response=list[ItemView]),
    Route("GET", "/api/v1/agenda/{item_id}", get_item, "member", "An agenda item: children and weights, every "
          "mandate judged, each aggregate recounted here", response=ItemReportView),
    Route("POST", "/api/v1/agenda/{item_id}/ballot", ballot_on_item, "officer", "Open this body's ballot on the "
          "exact text of its parent's item", response=BallotView, status=201),
    Route("POST", "/api/v1/agenda/{item_id}/mandate", issue_mandate, "officer", "Send this body's mandate, "
          "following its decision (signed)", MandateIn, Appended, 201),
    Route("POST", "/api/v1/agenda/{item_id}/aggregate", aggregate_item, "officer", "After the deadline: count "
          "the children's mandates and sign the aggregate", response=Appended, status=201),
    Route("GET", "/api/v1/findings", list_findings, "member", "Aggregates whose recount here found something "
          "wrong, with the reasons", response=list[FlaggedView]),
    Route("POST", "/api/v1/delegates", record_delegates, "officer", "Record this body's delegates to the body "
          "above (signed)", DelegatesIn, Appended, 201),
    Route("GET", "/api/v1/campaigns", list_campaigns, "member", "Campaign notices across the federation, with "
          "pledges", response=list[CampaignView]),
    Route("POST", "/api/v1/campaigns", publish_campaign, "officer", "Publish a campaign notice (signed)",
          CampaignIn, Appended, 201),
    Route("POST", "/api/v1/campaigns/{campaign_id}/pledges", pledge, "officer", "Pledge this body's support "
          "(signed)", PledgeIn, Appended, 201),
    Route(
        "POST",
        "/api/v1/log/profile",
        publish_profile,
        "officer",
        "Publish this node's profile (signed)",
        ProfileIn,
        Appended,
        201,
    ),
)
