"""Pages for a body deciding: motions (propose, amend, admit, ballots), a ballot (vote, the
receipt, check it), and the decisions this node holds from every body (public).

Every action calls node/federation/motions.py or ballots.py, as the API does."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from node.errors import BadInput, NodeError
from node.federation import ballots, decided, motions, participations, upward
from node.federation import submissions as subm
from node.federation.elections import DELEGATES, SELECTION
from node.federation.results import count_for_people
from node.rules.member_keys import site_of
from node.rules.motions import paragraphs, word_diff
from node.storage.ballots import BallotRow
from node.validation import whole_number
from node.web.common import int_param, json_response, node_of
from node.web.pages.account import form_error
from node.web.pages.common import Form, Page, read_form, redirect, render, signed_from, signed_in, text, who_of
from node.web.pages.elections import chart_of
from node.web.pages.public import rules_in_words
from node.web.pages.settings import read_settings, settings_as_sent, settings_of
from node.web.statuses import status_of
from protocol import Decision, node_id_text, open_envelope, parse_node_id
from protocol.ballots import CHOICES
from protocol.member_keys import challenge_of, motion_prefix

NOTICES = {"proposed": "Your motion is submitted.", "admitted": "Admitted: members may now amend it.",
           "ruled-out": "Ruled out.", "amended": "Your amendment is proposed.", "accepted": "Amendment accepted.",
           "ballot": "The ballot is open.", "closed": "Counted: the decision is signed and published.",
           "commented": "Comment added.", "withdrawn": "Withdrawn.",
           "submitted": "Submitted upward: the body it is for now has it."}  # fmt: skip


COUNTING_NAMES = {"stv": "Scottish STV", "meek": "Meek STV", "irv": "instant runoff", "schulze": "the Schulze method"}


def ranking_from_form(options: list[str], numbers: dict[str, str]) -> list[str]:
    """The candidates in the order the form numbered them (``rank-<index>``: 1, 2 ...; blank
    for not ranked). Gaps are kept in order; a number used twice is refused."""
    placed: dict[int, str] = {}
    for i, name in enumerate(options):
        value = numbers.get(f"rank-{i}", "").strip()
        if not value:
            continue
        number = whole_number(value, 1, len(options))
        if number is None:
            raise BadInput(f"a preference is a number from 1 to {len(options)}", field="choice")
        if number in placed:
            raise BadInput(f"{placed[number]} and {name} are both numbered {number}: give each its own number",
                           field="choice")  # fmt: skip
        placed[number] = name
    return [placed[n] for n in sorted(placed)]


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("done", ""))


async def motions_page(request: web.Request) -> web.StreamResponse:
    rows = await node_of(request).motions.recent()
    return render(request, "motions.html", {"motions": rows, "notice": _notice(request)})


def _bodies_for(request: web.Request) -> list[tuple[str, str]]:
    """(node id, name) of this body and every body above it: what a motion may be for."""
    node = node_of(request)
    me = node.own_log.key.public
    keys = [me, *upward.ancestors(node, me)]
    return [(node_id_text(k), "this body" if k == me else upward.name_of(node, k)) for k in keys]


async def _motion_signing(request: web.Request) -> dict[str, Any] | None:
    """What the member's passkey needs to sign moving a motion (None: they hold none here, or
    the node has no site name): the site, their passkeys, and the statement's prefix for each
    body the motion may be for."""
    node, who = node_of(request), who_of(request)
    federation = node.federation_state.federation
    passkeys = [r.credential for r in await node.member_keys.of(who.id, revoked=False) if r.credential]
    try:
        rp_id = site_of(node.config).rp_id
    except NodeError:
        return None
    if federation is None or not passkeys:
        return None
    prefixes = {node_id_text(k): motion_prefix(federation, node.key.public, k).hex()
                for k in (node.own_log.key.public, *upward.ancestors(node, node.own_log.key.public))}  # fmt: skip
    return {"rp": rp_id, "credentials": " ".join(participations.b64url(c) for c in passkeys), "prefixes": prefixes,
            "prefix": prefixes[node_id_text(node.own_log.key.public)]}  # fmt: skip


async def new_motion_page(request: web.Request) -> web.StreamResponse:
    return render(request, "motion_new.html", {"values": {"title": "", "text": "", "for": ""},
                                               "bodies": _bodies_for(request),
                                               "signing": await _motion_signing(request)})  # fmt: skip


async def propose(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    values = {"title": text(form, "title"), "text": text(form, "text").replace("\r\n", "\n"), "for": text(form, "for")}
    try:
        if len(values["title"]) > 200 or len(values["text"]) > 20_000:
            raise BadInput("a title has at most 200 characters and a text 20,000", field="title")
        bodies = dict(_bodies_for(request))
        if values["for"] and values["for"] not in bodies:
            raise BadInput("a motion is for this body or one above it", field="for")
        for_body = parse_node_id(values["for"]) if values["for"] else None
        row = await motions.propose(node_of(request), who_of(request), values["title"], values["text"],
                                    for_body=for_body, signed=signed_from(form, "signature"))  # fmt: skip
    except NodeError as exc:
        return form_error(request, "motion_new.html", exc, {"values": values, "bodies": _bodies_for(request),
                                                            "signing": await _motion_signing(request)})  # fmt: skip
    return redirect(f"/motions/{row.id}?done=proposed")


async def _motion_context(request: web.Request, motion_id: int) -> dict[str, Any]:
    node = node_of(request)
    motion = await node.motions.require(motion_id)
    amendments = await node.motions.amendments(motion_id)
    related = await node.ballots.of_motion(f"m{motion_id}")
    for_name = upward.name_of(node, motion.for_body) if motion.for_body != node.own_log.key.public else None
    submitted = await subm.submission_of(node, motion) if for_name else None
    return {"submitted": submitted.id.hex() if submitted else None,
            "motion": motion, "parts": paragraphs(motion.current), "amendments": amendments, "for_name": for_name,
            "comments": await node.motions.comments(motion_id), "ballots": related, "settings": settings_of(node),
            "is_mover": motion.proposer_id == who_of(request).id, "values": {"paragraph": 0, "words": "", "with": ""},
            "signing": await _motion_signing(request) if motion.state == "admitted" else None,  # the amend form
            "notice": _notice(request)}  # fmt: skip


DECIDED = ("carried", "carried_as_amended", "lost")  # a motion the public may read


async def motion_page(request: web.Request) -> web.StreamResponse:
    """Members see a motion at every step; anyone may read one once it is decided."""
    motion_id = int_param(request, "motion_id")
    if signed_in(request) is None:
        node = node_of(request)
        motion = await node.motions.get(motion_id)
        if motion is None or motion.state not in DECIDED:
            return redirect("/?" + urlencode({"next": request.path_qs}))  # as for any members' page
        decided = [(row, row.decision.hex()) for row in await node.ballots.of_motion(f"m{motion_id}") if row.decision]
        return render(request, "motion_public.html", {"motion": motion, "parts": paragraphs(motion.current),
                                                      "decided": decided})  # fmt: skip
    return render(request, "motion.html", await _motion_context(request, motion_id))


async def motion_action(request: web.Request) -> web.StreamResponse:
    """One form per step: admit, rule out, withdraw, amend, accept, comment, ballots."""
    form = await read_form(request)
    node, who, motion_id = node_of(request), who_of(request), int_param(request, "motion_id")
    action = request.match_info["action"]
    try:
        if action == "admit":
            await motions.admit(node, who, motion_id)
        elif action == "rule-out":
            await motions.rule_out(node, who, motion_id, text(form, "reason"))
        elif action == "withdraw":
            await motions.withdraw(node, who, motion_id)
        elif action == "comment":
            body = text(form, "text").strip()
            if not body or len(body) > 5000:
                raise BadInput("a comment has 1 to 5,000 characters", field="comment")
            await motions.comment(node, who, motion_id, body)
        elif action == "amend":
            await _amend(request, motion_id, form)
        elif action == "accept":
            await motions.accept_amendment(node, who, _int(text(form, "amendment"), "amendment"))
        elif action == "amendment-ballot":
            chosen = read_settings(form, node)
            row = await motions.ballot_on_amendment(node, who, _int(text(form, "amendment"), "amendment"),
                                                    rules_=chosen.rules, secrecy=chosen.secrecy,
                                                    may_change=chosen.may_change, closes=chosen.closes)  # fmt: skip
            return redirect(f"/ballots/{row.id}?done=ballot")
        elif action == "ballot":
            chosen = read_settings(form, node)
            row = await motions.ballot_on_motion(node, who, motion_id, rules_=chosen.rules, secrecy=chosen.secrecy,
                                                 may_change=chosen.may_change, closes=chosen.closes)  # fmt: skip
            return redirect(f"/ballots/{row.id}?done=ballot")
        elif action == "submit-up":
            await subm.submit(node, who, motion_id)
        else:
            raise BadInput("no such step")
    except NodeError as exc:
        context = await _motion_context(request, motion_id)
        context["values"] = {"paragraph": text(form, "paragraph"), "words": text(form, "words"),
                             "with": text(form, "with")}  # fmt: skip
        context["settings"] = settings_as_sent(form)
        return form_error(request, "motion.html", exc, context)
    done = {"rule-out": "ruled-out", "admit": "admitted", "amend": "amended", "accept": "accepted",
            "comment": "commented", "withdraw": "withdrawn", "submit-up": "submitted"}[action]  # fmt: skip
    return redirect(f"/motions/{motion_id}?done={done}")


def _int(value: str, field: str) -> int:
    number = whole_number(value, 0, 10**12)
    if number is None:
        raise BadInput("not a number", field=field)
    return number


async def _amendment_of(request: web.Request, motion_id: int, paragraph_text: str, words: str, replacement: str
                        ) -> tuple[int, int, int, str]:  # fmt: skip
    """The page's form names words, not offsets: replace those words (they must appear once
    in the paragraph), or, with none, add the new words at the paragraph's end. Returns the
    amendment as stored: (paragraph from 0, start, end, the new words)."""
    node = node_of(request)
    motion = await node.motions.require(motion_id)
    index = _int(paragraph_text, "paragraph") - 1
    parts = paragraphs(motion.current)
    if not 0 <= index < len(parts):
        raise BadInput(f"the motion has paragraphs 1 to {len(parts)}", field="paragraph")
    para = parts[index]
    if words:
        if para.count(words) != 1:
            raise BadInput("copy words that appear exactly once in that paragraph", field="words")
        start = para.index(words)
        end = start + len(words)
    else:
        start = end = len(para)
        replacement = (" " if para and replacement and not para.endswith(" ") else "") + replacement
    if len(replacement) > 20_000:
        raise BadInput("the new words are too long", field="with")
    return index, start, end, replacement


async def _amend(request: web.Request, motion_id: int, form: Form) -> None:
    index, start, end, replacement = await _amendment_of(request, motion_id, text(form, "paragraph"),
                                                         text(form, "words"), text(form, "with"))  # fmt: skip
    await motions.amend(node_of(request), who_of(request), motion_id, index, start, end, replacement,
                        signed=signed_from(form, "signature"))  # fmt: skip


async def amendment_challenge(request: web.Request) -> web.StreamResponse:
    """For site.js, before the amendment form goes: the challenge its passkey signs, made from
    the form as the node will read it (JSON ``{"challenge"}``, or ``{"error"}`` saying what
    is wrong with the form)."""
    form = await read_form(request)
    node, motion_id = node_of(request), int_param(request, "motion_id")
    try:
        index, start, end, replacement = await _amendment_of(request, motion_id, text(form, "paragraph"),
                                                             text(form, "words"), text(form, "with"))  # fmt: skip
        statement = motions.amendment_statement(node, await node.motions.require(motion_id), index, start, end,
                                                replacement)  # fmt: skip
    except NodeError as exc:
        return json_response({"error": exc.message}, status=status_of(exc))
    return json_response({"challenge": participations.b64url(challenge_of(statement))})


async def _ballot_context(request: web.Request, ballot_id: int, **extra: Any) -> dict[str, Any]:
    node = node_of(request)
    row = await node.ballots.require(ballot_id)
    who = who_of(request)
    decision, counted = None, None
    if row.decision is not None:
        raw = await node.envelopes.get(row.decision)
        if raw is not None:
            envelope = open_envelope(raw)
            decision = envelope.payload.body
            if isinstance(decision, Decision) and decision.outcome == "elected":
                counted = count_for_people(await decided.whole(node, envelope))
    quorum = row.rules.quorum
    statements: dict[str, str] = {}
    if row.election is not None:  # what each candidate said, where they stood here
        spec = row.election
        contest = (DELEGATES + spec.delegates_to.hex() if spec.delegates_to else
                   SELECTION + spec.selection.hex() if spec.selection else None)  # fmt: skip
        if contest is not None:
            statements = {c.name: c.statement for c in await node.candidacies.of(contest) if c.statement}
    diff = None
    if row.amendment and row.state == "open" and row.motion.startswith("m") and row.motion[1:].isdigit():
        # An amendment: its paragraph as the motion reads now, with the words it changes marked.
        motion = await node.motions.get(int(row.motion[1:]))
        amendment = await node.motions.get_amendment(int(row.amendment[1:])) if row.amendment[1:].isdigit() else None
        if motion is not None and amendment is not None:
            now, then = paragraphs(motion.current), paragraphs(row.text)
            if amendment.paragraph < min(len(now), len(then)):
                diff = (amendment.paragraph + 1, word_diff(now[amendment.paragraph], then[amendment.paragraph]))
    ranked = {"r": counted, "chart": chart_of(counted)} if counted is not None else None
    return {**await _participation_context(request, row, decision), "ballot": row, "statements": statements,
            "choices": CHOICES, "diff": diff, "ranked": ranked,
            "voted": await node.ballots.has_voted(row.id, who.id),
            "on_roll": await node.ballots.elector_salt(row.id, who.id) is not None, "decision": decision,
            "receipt": None, "check": None, "typed": None, "notice": _notice(request),
            "counting_names": COUNTING_NAMES,
            "rules": rules_in_words(row.rules, row.electorate) if row.method == "for_against_abstain" else [],
            "turnout": await node.ballots.turnout(row.id) if row.state == "open" else None,
            "quorum_needed": -(-quorum.num * row.electorate // quorum.den) if row.method == "for_against_abstain"
            else 0, "confirm_close": False, **extra}  # fmt: skip


async def _participation_context(request: web.Request, row: BallotRow, decision: object) -> dict[str, Any]:
    """The member's own keys on this ballot: what their passkey signs when they vote (the
    statement's challenge, the site, the passkeys its roll froze), and once it is decided,
    what the decision holds in their name (signed, unsigned, or nothing)."""
    node, who = node_of(request), who_of(request)
    signing, participation = None, None
    if row.state == "open" and await node.ballots.elector(row.id, who.id) is not None:
        got = await participations.options_for(node, who, row)
        passkeys = [c for _, c in got.keys if c]
        if got.rp_id is not None and passkeys:
            b64url = participations.b64url
            signing = {"challenge": b64url(challenge_of(got.statement)), "rp": got.rp_id,
                       "credentials": " ".join(b64url(c) for c in passkeys)}  # fmt: skip
    scrutinise = False
    if isinstance(decision, Decision) and decision.participations is not None:
        participation = await participations.entry_of(node, who, row)
        scrutinise = await node.scrutineers.has(who.id)
    return {"signing": signing, "participation": participation, "signed": None, "scrutinise": scrutinise}


async def ballot_page(request: web.Request) -> web.StreamResponse:
    return render(request, "ballot.html", await _ballot_context(request, int_param(request, "ballot_id")))


async def ballot_action(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    node, who, ballot_id = node_of(request), who_of(request), int_param(request, "ballot_id")
    action = request.match_info["action"]
    try:
        if action == "vote":
            row = await node.ballots.require(ballot_id)
            picked: str | list[str]
            if row.method == "ranked":
                picked = ranking_from_form(row.options, {k: text(form, k) for k in form if k.startswith("rank-")})
            elif row.method == "for_against_abstain":
                picked = text(form, "choice")
            else:
                picked = [str(v) for v in form.getall("choice", [])]
            signed = signed_from(form)
            receipt = await ballots.vote(node, who, ballot_id, picked, signed=signed)
            context = await _ballot_context(request, ballot_id, receipt=receipt, signed=signed is not None)
            return render(request, "ballot.html", context, status=201)
        if action == "check":  # posted, never in the address: a receipt must not reach access logs
            typed = text(form, "receipt").strip()[:100]
            try:
                check = await ballots.check_receipt(node, ballot_id, typed)
            except NodeError as exc:  # the form again, the field marked, what was typed kept
                return form_error(request, "ballot.html", exc, await _ballot_context(request, ballot_id, typed=typed))
            return render(request, "ballot.html", await _ballot_context(request, ballot_id, check=check, typed=typed))
        if action == "close":
            if text(form, "confirm") != "yes":  # first, what closing now means: the turnout, the quorum
                context = await _ballot_context(request, ballot_id, confirm_close=True)
                return render(request, "ballot.html", context)
            await motions.close_ballot(node, who, ballot_id)
            return redirect(f"/ballots/{ballot_id}?done=closed")
        raise BadInput("no such step")
    except NodeError as exc:
        return form_error(request, "ballot.html", exc, await _ballot_context(request, ballot_id))


async def decisions_page(request: web.Request) -> web.StreamResponse:
    node = node_of(request)
    trust = node.federation_state.trust
    items = []
    for raw in await node.envelopes.of_kind("decision", 100):
        envelope = open_envelope(raw)
        body = envelope.payload.body
        assert isinstance(body, Decision)
        author = trust.bodies.get(envelope.author) if trust else None
        items.append(
            {"id": envelope.id.hex(), "body": body, "by": author.name if author else node_id_text(envelope.author)}
        )
    return render(request, "decisions.html", {"items": items, "choices": CHOICES, "who_here": signed_in(request)})


PAGES = [
    Page("GET", "/motions", motions_page, "member"),
    Page("GET", "/motions/new", new_motion_page, "member"),
    Page("POST", "/motions/new", propose, "member"),
    Page("POST", "/motions/{motion_id}/amend-challenge", amendment_challenge, "member"),
    Page("GET", "/motions/{motion_id}", motion_page, "public"),  # members', or anyone's once decided
    Page("POST", "/motions/{motion_id}/{action}", motion_action, "member"),
    Page("GET", "/ballots/{ballot_id}", ballot_page, "member"),
    Page("POST", "/ballots/{ballot_id}/{action}", ballot_action, "member"),
    Page("GET", "/decisions", decisions_page, "public"),
]
