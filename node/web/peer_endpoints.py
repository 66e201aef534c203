"""Gossip over HTTP, server side: the ``/fed/v1/`` routes other nodes call.

Every route but ``GET /fed/v1/info`` requires an RFC 9421 signature by a node key
(:mod:`protocol.httpsig`): ``created`` within the clock-skew window, a ``nonce`` not seen
in that window (replays are refused), a ``Content-Digest`` matching the body, and a key
that is chartered and not cut in this federation (``POST /fed/v1/join`` alone accepts
keys not chartered yet: that is what joining is). Limits: declared bodies over the cap get
413 before a byte is read, bodies are read under a timeout, batches are capped in count,
and each peer key has a token bucket (429 with ``Retry-After``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec
from aiohttp import web

from node.config import FederationSection
from node.errors import BadInput, Forbidden, NotFound, Throttled, TooLarge, Unauthorized
from node.federation.acts import check_may_charter
from node.service import Node
from node.validation import describe
from node.web.common import NODE, client_address, int_query, json_response, read_body
from protocol import Code, ProtocolError, SignatureFailure, parse_node_id, read_bundle, write_bundle
from protocol.httpsig import (
    COMPONENTS,
    SignatureInput,
    content_digest,
    parse_signature_inputs,
    parse_signatures,
    request_components,
    verify_request,
)
from protocol.models import MAX_SEQ
from protocol.wire import JoinRequest, RangesReply, RangesRequest, SyncReply, SyncRequest

SMALL_BODY = 64 * 1024
MAX_LOG_LIMIT = 1000
_SYNC_REQUEST = msgspec.msgpack.Decoder(SyncRequest)
_JOIN_REQUEST = msgspec.msgpack.Decoder(JoinRequest)
_RANGES_REQUEST = msgspec.msgpack.Decoder(RangesRequest)
MAX_RANGES_ENVELOPES = 2000
MAX_RANGES_BYTES = 8 * 1024 * 1024
_ENCODER = msgspec.msgpack.Encoder()


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass
class Guards:
    """Replay cache and per-peer token buckets for one node (limits read live from config)."""

    config: FederationSection
    nonces: OrderedDict[tuple[bytes, str], float] = field(default_factory=OrderedDict)
    buckets: dict[bytes | str, Bucket] = field(default_factory=dict)
    max_nonces: int = 200_000

    def take(self, key: bytes | str, now: float, scale: int = 1) -> float | None:
        """Spend one token for ``key`` (a node key, or a client address with a ``scale``d
        allowance); None if allowed, else seconds until one is free."""
        rate, burst = float(self.config.peer_rate * scale), float(self.config.peer_burst * scale)
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) > 50_000:
                self.buckets.clear()
            bucket = self.buckets[key] = Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1:
            return (1 - bucket.tokens) / rate
        bucket.tokens -= 1
        return None

    def fresh_nonce(self, key: bytes, nonce: str, now: float) -> bool:
        while self.nonces and next(iter(self.nonces.values())) < now:
            self.nonces.popitem(last=False)
        if (key, nonce) in self.nonces:
            return False
        if len(self.nonces) >= self.max_nonces:
            self.nonces.popitem(last=False)
        self.nonces[(key, nonce)] = now + 2 * self.config.clock_skew_s
        return True


GUARDS = web.AppKey("fed_guards", Guards)
SignedHandler = Callable[[web.Request, bytes, bytes], Awaitable[web.StreamResponse]]


def _node(request: web.Request) -> Node:
    return request.app[NODE]


def _fresh(signature: SignatureInput, now: float, skew_s: int) -> bool:
    """Whether the signature's ``created`` (an integer, not a boolean) is within the skew."""
    created = signature.param("created")
    return type(created) is int and abs(now - created) <= skew_s


def _components_of(request: web.Request) -> Callable[[str], str | None]:
    """Each component a signature may cover, as this request has it (RFC 9421 section 2): the
    path and query as sent (percent-encoded), not as aiohttp decodes them for routing; a header
    field's lines trimmed and joined with ", "; None for what the request does not have."""
    raw_query = request.rel_url.raw_query_string
    query = f"?{raw_query}" if raw_query else "?"
    path = request.rel_url.raw_path or "/"
    derived = dict(request_components(request.method, request.host, path, query, ""))
    derived["@scheme"] = request.scheme
    derived["@target-uri"] = f"{request.scheme}://{derived['@authority']}{path}{query if raw_query else ''}"
    derived["@request-target"] = path + (query if raw_query else "")

    def value_of(name: str) -> str | None:
        if name.startswith("@"):
            return derived.get(name)
        if name != name.lower():
            return None
        lines = request.headers.getall(name, [])
        return ", ".join(line.strip(" \t") for line in lines) if lines else None

    return value_of


def signed(
    handler: SignedHandler, cap: int = SMALL_BODY, allow_unchartered: bool = False
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Check the request signature and the caller's standing, then call ``handler(request, key, body)``."""

    async def checked(request: web.Request) -> web.StreamResponse:
        node = _node(request)
        guards = request.app[GUARDS]
        config = node.config.federation
        signature_input = request.headers.get("Signature-Input")
        signature_header = request.headers.get("Signature")
        if not signature_input or not signature_header:
            raise Unauthorized("node requests carry Signature-Input and Signature (RFC 9421)", code="unsigned")
        try:
            described = parse_signature_inputs(signature_input)
            signatures = parse_signatures(signature_header)
        except ProtocolError as exc:
            raise Unauthorized(exc.message, field=exc.field, code=str(exc.code)) from None
        # Of the signatures the request carries, those that could be a node's (a keyid, the
        # required components); the first that holds is the one that speaks.
        candidates = [d for d in described if d.label in signatures and isinstance(d.param("keyid"), str)
                      and set(COMPONENTS) <= set(d.components)]  # fmt: skip
        if not candidates:
            raise Unauthorized(f"no signature here has a keyid and covers {' '.join(COMPONENTS)}", code="bad_signature")
        now = time.time()
        if not any(_fresh(d, now, config.clock_skew_s) for d in candidates):
            raise Unauthorized(
                f"the signature's created time is not within {config.clock_skew_s} s of ours", code="stale_signature"
            )
        # Before reading a body: a per-address allowance (several nodes may share an address);
        # the per-node one is spent only once the signature proves who is asking, so nobody
        # can use up another node's allowance by naming its key.
        throttle(guards.take(f"address {client_address(request)}", time.monotonic(), scale=4), "from this address")
        body = await read_body(request, config.max_push_bytes if cap == -1 else cap, config.request_timeout_ms / 1000)
        digest_header = request.headers.get("Content-Digest", "")
        if digest_header != content_digest(body):
            raise Unauthorized("Content-Digest does not match the body", code="bad_digest")
        value_of = _components_of(request)
        failure: ProtocolError | None = None
        parsed: SignatureInput | None = None
        key = b""
        for candidate in candidates:
            if not _fresh(candidate, now, config.clock_skew_s):
                continue
            expires = candidate.param("expires")
            if expires is not None and (type(expires) is not int or expires < now):
                failure = failure or SignatureFailure(Code.BAD_SIGNATURE, "expired", "Signature-Input")
                continue
            try:
                key = parse_node_id(str(candidate.param("keyid")))
                verify_request(key, candidate, signatures[candidate.label], value_of)
            except ProtocolError as exc:
                failure = failure or exc
                continue
            parsed = candidate
            break
        if parsed is None:
            why = failure or SignatureFailure(Code.BAD_SIGNATURE, "no signature holds", "Signature")
            raise Unauthorized(why.message, field=why.field, code=str(why.code))
        nonce = parsed.param("nonce")
        if not isinstance(nonce, str) or not nonce or not guards.fresh_nonce(key, nonce, now):
            raise Unauthorized("this request was seen before (replay) or has no nonce", code="replay")
        throttle(guards.take(key, time.monotonic()), "from this node")
        if not allow_unchartered and not node.federation_state.may_speak(key):
            body_state = node.federation_state.body(key)
            reason = "revoked_node" if body_state is not None else "unknown_node"
            raise Forbidden("this node is not chartered here, or its charter was cut", code=reason)
        return await handler(request, key, body)

    return checked


def throttle(wait: float | None, what: str) -> None:
    if wait is not None:
        raise Throttled(f"too many requests {what}", retry_after=max(1, int(wait + 0.999)))


def msgpack_response(value: object) -> web.Response:
    return web.Response(body=_ENCODER.encode(value), content_type="application/msgpack")


# --- handlers -----------------------------------------------------------------------------
async def info(request: web.Request) -> web.StreamResponse:
    node = _node(request)
    federation = node.federation_state.federation
    return json_response(
        {
            "node_id": node.key.node_id,
            "name": node.config.node.name,
            "level": node.config.node.level,
            "url": node.config.http.public_url,
            "federation": federation.hex() if federation else None,
        }
    )


async def sync(request: web.Request, key: bytes, body: bytes) -> web.StreamResponse:
    try:
        asked = _SYNC_REQUEST.decode(body)
    except msgspec.DecodeError as exc:
        raise BadInput(f"not a sync request: {exc}", code="malformed") from None
    state = _node(request).federation_state
    if asked.digest == state.digest():
        return msgpack_response(SyncReply(equal=True))
    return msgpack_response(SyncReply(equal=False, heads=state.head_triples()))


async def envelopes(request: web.Request, key: bytes, body: bytes) -> web.StreamResponse:
    node = _node(request)
    try:
        raws = list(read_bundle(body))
    except ProtocolError as exc:
        raise BadInput(exc.message, code=str(exc.code)) from None
    if len(raws) > node.config.federation.max_batch:
        raise TooLarge(f"{len(raws)} envelopes in one batch; the limit is {node.config.federation.max_batch}")
    outcomes = await node.federation_state.ingest(raws)
    return msgpack_response({"outcomes": outcomes})


async def log_range(request: web.Request, key: bytes, body: bytes) -> web.StreamResponse:
    node = _node(request)
    text = request.match_info["author"]
    if len(text) != 64 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise BadInput("the author is 64 hex digits (a node key)", field="author")
    author = bytes.fromhex(text)
    after = int_query(request, "after", 0, 0, MAX_SEQ)
    limit = int_query(request, "limit", MAX_LOG_LIMIT, 1, MAX_LOG_LIMIT)
    raws = await node.envelopes.range(author, after, limit)
    return web.Response(body=write_bundle(raws), content_type="application/vnd.branchnet.bundle")


async def ranges(request: web.Request, key: bytes, body: bytes) -> web.StreamResponse:
    """Many authors' log ranges in one answer (``POST /fed/v1/ranges``), capped in count and bytes."""
    node = _node(request)
    try:
        asked = _RANGES_REQUEST.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"not a ranges request: {exc}", code="malformed") from None
    for author, after, until in asked.wants:
        if len(author) != 32 or not 0 <= after <= until <= MAX_SEQ:
            raise BadInput(f"each want is [author (32 bytes), after, until] with 0 <= after <= until <= {MAX_SEQ}")
    heads = node.federation_state.heads
    rows = await node.envelopes.ranges(asked.wants, MAX_RANGES_ENVELOPES, MAX_RANGES_BYTES,
                                       lambda author: heads[author].seq if author in heads else 0)  # fmt: skip
    last: dict[int, int] = {}
    for i, seq, _ in rows:
        last[i] = seq
    served = 0
    for i, (author, after, until) in enumerate(asked.wants):
        head = heads.get(author)
        end = min(until, head.seq if head is not None else 0)
        if end > after and last.get(i, after) < end:
            break  # this want was cut short by the caps: it and those after are not served in full
        served = i + 1
    return msgpack_response(RangesReply(envelopes=[raw for _, _, raw in rows], served=served))


async def join(request: web.Request, key: bytes, body: bytes) -> web.StreamResponse:
    node = _node(request)
    try:
        asked = _JOIN_REQUEST.decode(body)
    except msgspec.ValidationError as exc:  # the fields, checked as a charter's
        message, field = describe(exc)
        raise BadInput(message, field=field) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"not a join request: {exc}", code="malformed") from None
    check_may_charter(node, asked.level)
    state = await node.joins.request(key, asked, client_address(request))
    return msgpack_response(state)


async def join_status(request: web.Request, key: bytes, body: bytes) -> web.StreamResponse:
    state = await _node(request).joins.state_of(key)
    if state is None:
        raise NotFound("no join request from this node")
    return msgpack_response(state)


def add_federation_routes(app: web.Application, node: Node) -> None:
    config = node.config.federation
    app[GUARDS] = Guards(config)
    app.router.add_get("/fed/v1/info", info)
    app.router.add_post("/fed/v1/sync", signed(sync))
    app.router.add_post("/fed/v1/envelopes", signed(envelopes, cap=-1))
    app.router.add_get("/fed/v1/log/{author}", signed(log_range))
    app.router.add_post("/fed/v1/ranges", signed(ranges))
    app.router.add_post("/fed/v1/join", signed(join, allow_unchartered=True))
    app.router.add_get("/fed/v1/join", signed(join_status, allow_unchartered=True))
