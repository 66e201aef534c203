"""The authorisation matrix's expectations, continued (tests/node/web/authz_expected.py holds
the rest): decisions going up, carrying out members' requests, elections."""

from __future__ import annotations

from tests.node.web.authz_builders import (
    CAMPAIGN,
    ITEM,
    PROFILE,
    ROLES,
    Builder,
    _carry_out,
    _composite,
    _composite_answer,
    _fixed,
    _item_path,
    _json,
    _new_selection,
    _pledge,
    _refusal,
    _ruling,
    _selection_path,
    _submit_motion,
    _withdraw_campaign,
    _withdraw_pledge,
)

A = 401  # not signed in
F = 403  # signed in, not allowed
BODIES: dict[tuple[str, str], tuple[Builder, dict[str, tuple[int, int]]]] = {
    # Decisions going up. The node is the federation's root: it has no parent, so its officers'
    # mandates, ballots on a parent's item, delegates and submissions are refused for what
    # they are (409), after the access check; the rest succeed.
    ("POST", "/api/v1/submissions"): (
        _submit_motion,
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("GET", "/api/v1/submissions"): (
        _fixed("/api/v1/submissions"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/submissions/{submission_id}/ruling"): (
        _ruling,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/composites"): (
        _composite,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/composites/{composite_id}/answer"): (
        _composite_answer,
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/agenda"): (
        _json("/api/v1/agenda", ITEM),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/agenda"): (_fixed("/api/v1/agenda"), {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    ("GET", "/api/v1/agenda/{item_id}"): (_item_path(), {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    ("POST", "/api/v1/agenda/{item_id}/ballot"): (
        _item_path("/ballot"),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/agenda/{item_id}/mandate"): (
        _item_path("/mandate", body={}),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/agenda/{item_id}/aggregate"): (
        _item_path("/aggregate", past=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/findings"): (
        _fixed("/api/v1/findings"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/delegates"): (
        _json("/api/v1/delegates", {"count": 2}),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/delegates/proposals"): (
        _json("/api/v1/delegates/proposals", {"count": 2}),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("GET", "/api/v1/access"): (
        _fixed("/api/v1/access"),
        {"anonymous": (A, A), "member": (F, F), "officer": (F, F), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/me/erasure"): (
        _fixed("/api/v1/me/erasure"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("GET", "/api/v1/privacy"): (
        _fixed("/api/v1/privacy"),
        dict.fromkeys(ROLES, (200, 200)),
    ),
    ("PUT", "/api/v1/privacy"): (
        _json("/api/v1/privacy", {"controller": "Riverside Branch", "contact": "secretary@riverside.example"}),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/retention"): (
        _fixed("/api/v1/retention"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/erasures"): (
        _fixed("/api/v1/erasures"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    # Carrying out: an officer forgets an ordinary member, never themselves (409); an admin's
    # own request too is another's to carry out.
    ("POST", "/api/v1/erasures/{request_id}/carry-out"): (
        _carry_out,
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 200), "admin": (409, 200)},
    ),
    ("POST", "/api/v1/erasures/{request_id}/refusal"): (
        _refusal,
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/me/data"): (
        _fixed("/api/v1/me/data"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/me/access"): (
        _fixed("/api/v1/me/access"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/campaigns"): (
        _fixed("/api/v1/campaigns"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/campaigns"): (
        _json("/api/v1/campaigns", CAMPAIGN),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/campaigns/{campaign_id}/pledges"): (
        _pledge,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/campaigns/{campaign_id}/withdrawal"): (
        _withdraw_campaign,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/pledges/{pledge_id}/withdrawal"): (
        _withdraw_pledge,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    # Elections. The node has no body above it, so standing for delegates to one, or opening
    # a delegate election, is refused for what it is (400: no such body above), after the
    # access check; a selection of its own runs across the regions it chartered.
    ("GET", "/api/v1/candidacies"): (
        _fixed("/api/v1/candidacies?contest=selection:" + "00" * 32),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/candidacies"): (
        _json("/api/v1/candidacies", {"contest": "delegates:00", "name": "Ann"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (400, 400)),
    ),
    ("GET", "/api/v1/candidacies/consent-options"): (
        _fixed("/api/v1/candidacies/consent-options?name=Ann&contest=selection:" + "00" * 32),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (404, 404)),
    ),
    ("POST", "/api/v1/candidacies/withdraw"): (
        _json("/api/v1/candidacies/withdraw", {"contest": "delegates:00"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (409, 409)),
    ),
    ("POST", "/api/v1/elections/delegates"): (
        _json("/api/v1/elections/delegates", {"seats": 2}),
        {"anonymous": (A, A), "member": (F, F), "officer": (400, 400), "admin": (400, 400)},
    ),
    ("GET", "/api/v1/selections"): (
        _fixed("/api/v1/selections"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/selections"): (
        _new_selection,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/selections/{selection_id}"): (
        _selection_path(),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/selections/{selection_id}/nominations"): (
        _selection_path("/nominations", body={"member": 1}),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/selections/{selection_id}/paper"): (
        _selection_path("/paper", nominations_closed=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/selections/{selection_id}/ballot"): (
        _selection_path("/ballot", nominations_closed=True, paper=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/selections/{selection_id}/result"): (
        _selection_path("/result", nominations_closed=True, voting_closed=True, paper=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/log/profile"): (
        _json("/api/v1/log/profile", PROFILE),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
}
