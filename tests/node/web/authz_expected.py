"""The authorisation matrix's expectations (tests/node/web/test_authz_matrix.py): every route,
for anonymous / member / officer / admin, on their own data and another member's. Written by
hand from the rules in docs/operating.md."""

from __future__ import annotations

from tests.node.web.authz_builders import (
    PASSWORD_CHANGE,
    ROLES,
    Builder,
    _accept_invite,
    _add_member,
    _amendment_path,
    _approve,
    _ballot_path,
    _charter,
    _charter_proposal,
    _envelope,
    _fixed,
    _freeze,
    _import,
    _json,
    _key_file,
    _key_revoke,
    _log,
    _login,
    _member_patch,
    _member_path,
    _motion_path,
    _propose_join,
    _refuse,
    _register,
    _reset,
    _revocation,
    _revocation_proposal,
    _rules_proposal,
    _scrutineer_appoint,
    _scrutineer_dismiss,
    _token_delete,
)
from tests.node.web.authz_expected_bodies import BODIES, A, F

# (method, path) -> (builder, {role: (status for own data, status for another member's data)})
EXPECTED: dict[tuple[str, str], tuple[Builder, dict[str, tuple[int, int]]]] = {
    **BODIES,  # decisions going up, carrying out erasures, elections: authz_expected_bodies.py
    ("GET", "/healthz"): (_fixed("/healthz"), dict.fromkeys(ROLES, (200, 200))),
    ("GET", "/api/v1/node"): (_fixed("/api/v1/node"), dict.fromkeys(ROLES, (200, 200))),
    ("GET", "/api/v1/envelopes/{id}"): (_envelope, dict.fromkeys(ROLES, (200, 200))),
    ("GET", "/api/v1/log/{author}"): (_log, dict.fromkeys(ROLES, (200, 200))),
    ("POST", "/api/v1/auth/login"): (_login, dict.fromkeys(ROLES, (200, 401))),
    ("POST", "/api/v1/auth/invite"): (_accept_invite, dict.fromkeys(ROLES, (200, 400))),
    ("POST", "/api/v1/auth/forgot"): (
        _json("/api/v1/auth/forgot", {"email": "a@example.org"}),
        dict.fromkeys(ROLES, (202, 202)),
    ),
    ("POST", "/api/v1/auth/reset"): (_reset, dict.fromkeys(ROLES, (200, 400))),
    ("GET", "/api/v1/me/keys"): (
        _fixed("/api/v1/me/keys"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    # This node is reached at an IP address, to which no passkey can be bound (409 no_site_name).
    ("POST", "/api/v1/me/keys/passkey-options"): (
        _fixed("/api/v1/me/keys/passkey-options"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (409, 409)),
    ),
    ("POST", "/api/v1/me/keys/passkeys"): (
        _json("/api/v1/me/keys/passkeys", {"credential": {}}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (409, 409)),
    ),
    ("POST", "/api/v1/me/keys/files"): (
        _key_file,
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("DELETE", "/api/v1/me/keys/{key_id}"): (
        _key_revoke,
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 404)),
    ),
    ("GET", "/api/v1/me/notices"): (
        _fixed("/api/v1/me/notices"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("PATCH", "/api/v1/me/notices"): (
        _json("/api/v1/me/notices", {"decisions": True}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    # This node has no mail set up: officers are told so (409 mail_off).
    ("POST", "/api/v1/members/invite-everyone"): (
        _fixed("/api/v1/members/invite-everyone"),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("GET", "/api/v1/outbox"): (
        _fixed("/api/v1/outbox"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/auth/logout"): (
        _fixed("/api/v1/auth/logout"),
        {"anonymous": (A, A), "member": (204, 204), "officer": (204, 204), "admin": (204, 204)},
    ),
    ("GET", "/api/v1/me"): (_fixed("/api/v1/me"), {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    ("PATCH", "/api/v1/me"): (
        _json("/api/v1/me", {"consent_contact": True}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/me/password"): (
        _json("/api/v1/me/password", PASSWORD_CHANGE),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (204, 204)),
    ),
    ("GET", "/api/v1/tokens"): (
        _fixed("/api/v1/tokens"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/tokens"): (
        _json("/api/v1/tokens", {"name": "script"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    # Another member's token is invisible, even to an admin: 404, not 403.
    ("DELETE", "/api/v1/tokens/{token_id}"): (
        _token_delete,
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (204, 404)),
    ),
    ("GET", "/api/v1/members"): (
        _fixed("/api/v1/members"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/members"): (
        _add_member,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/members/import"): (
        _import,
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/members/{member_id}"): (
        _member_path(),
        {"anonymous": (A, A), "member": (200, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("PATCH", "/api/v1/members/{member_id}"): (
        _member_patch,
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("DELETE", "/api/v1/members/{member_id}"): (
        _member_path(),
        {"anonymous": (A, A), "member": (F, F), "officer": (204, 204), "admin": (204, 204)},
    ),
    ("POST", "/api/v1/members/{member_id}/invite"): (
        _member_path("/invite"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/joins"): (
        _fixed("/api/v1/joins"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/joins/{join_id}/approve"): (
        _approve,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/joins/{join_id}/proposals"): (
        _propose_join,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/joins/{join_id}/refuse"): (
        _refuse,
        {"anonymous": (A, A), "member": (F, F), "officer": (204, 204), "admin": (204, 204)},
    ),
    ("POST", "/api/v1/joins/codes"): (
        _fixed("/api/v1/joins/codes"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/charters"): (
        _charter,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/revocations"): (
        _revocation,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/charters/proposals"): (
        _charter_proposal,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/revocations/proposals"): (
        _revocation_proposal,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/acts"): (
        _fixed("/api/v1/acts"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/rules"): (
        _fixed("/api/v1/rules"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/rules/proposals"): (
        _rules_proposal,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/freezes"): (
        _freeze,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/motions"): (
        _json("/api/v1/motions", {"title": "Fund it", "text": "We fund it."}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("GET", "/api/v1/motions"): (
        _fixed("/api/v1/motions"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/motions/{motion_id}"): (
        _motion_path(),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    # The mover's own steps: nobody else's, whatever their role.
    ("POST", "/api/v1/motions/{motion_id}/submit"): (
        _motion_path("/submit", "draft"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/withdraw"): (
        _motion_path("/withdraw"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/admit"): (
        _motion_path("/admit"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/rule-out"): (
        _motion_path("/rule-out", body={"reason": "Not our business"}),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/refer"): (
        _motion_path("/refer", body={"reason": "To the region"}),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/amendments"): (
        _motion_path("/amendments", "admitted", {"paragraph": 1, "start": 0, "end": 4, "text": "That"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/comments"): (
        _motion_path("/comments", body={"text": "I agree."}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/ballot"): (
        _motion_path("/ballot", "admitted"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/remit"): (
        _motion_path("/remit"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/amendments/{amendment_id}/withdraw"): (
        _amendment_path("/withdraw", by_target=True),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/amendments/{amendment_id}/accept"): (
        _amendment_path("/accept"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/amendments/{amendment_id}/ballot"): (
        _amendment_path("/ballot"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/rolls"): (
        _fixed("/api/v1/rolls"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/ballots"): (
        _json("/api/v1/ballots", {"motion": "m1", "subject": "Fund it", "text": "We fund it."}),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/ballots"): (
        _fixed("/api/v1/ballots"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/ballots/{ballot_id}"): (
        _ballot_path(),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/ballots/{ballot_id}/votes"): (
        _ballot_path("/votes", body={"choice": "for"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("POST", "/api/v1/ballots/{ballot_id}/close"): (
        _ballot_path("/close"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/ballots/{ballot_id}/receipt-check"): (
        _ballot_path("/receipt-check", closed=True, body={"receipt": "r-aaaaaaaaaaaaaaaaaaaaaaaaaa"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/ballots/{ballot_id}/roll-proof"): (
        _ballot_path("/roll-proof"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/ballots/{ballot_id}/participation-options"): (
        _ballot_path("/participation-options"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/ballots/{ballot_id}/participation"): (
        _ballot_path("/participation", closed=True),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    # Only the branch's scrutineers: the caller is one in the "own" column, not in the other.
    ("GET", "/api/v1/ballots/{ballot_id}/register"): (
        _register,
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("GET", "/api/v1/scrutineers"): (
        _fixed("/api/v1/scrutineers"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    # A scrutineer holds no office: an officer cannot appoint themselves (400).
    ("POST", "/api/v1/scrutineers"): (
        _scrutineer_appoint,
        {"anonymous": (A, A), "member": (F, F), "officer": (400, 204), "admin": (400, 204)},
    ),
    ("DELETE", "/api/v1/scrutineers/{member_id}"): (
        _scrutineer_dismiss,
        {"anonymous": (A, A), "member": (F, F), "officer": (204, 204), "admin": (204, 204)},
    ),
}
