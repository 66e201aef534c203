"""The outbox as a store: one mail per dedupe key, claimed before it is sent, recovered after
a crash, its contents erased once sent, and old rows forgotten."""

from __future__ import annotations

from node.service import Node
from node.storage import outbox
from node.storage.members import MemberIn


async def test_the_life_of_a_mail(node: Node) -> None:
    ann = await node.members.add(MemberIn(name="Ann", email="ann@example.org"))
    store = node.outbox
    assert await store.queue_one(ann.id, "invite", {"url": "https://x/invite/bni_secret"}, "once")
    assert not await store.queue_one(ann.id, "invite", {"url": "https://x/invite/bni_other"}, "once")  # deduped
    mail = await store.claim()
    assert mail is not None and mail.email == "ann@example.org" and mail.attempts == 1
    assert await store.claim() is None  # sending: nobody else takes it
    assert await store.recover() == 1  # a crash: queued again, the same row (the same Message-ID)
    again = await store.claim()
    assert again is not None and again.id == mail.id and again.attempts == 2
    await store.sent(again.id)
    (row,) = await node.db.fetchall("SELECT state, params FROM outbox")
    assert tuple(row) == ("sent", "{}")  # the link is gone once sent
    assert await store.prune(3600) == 0  # kept a while for officers to see
    store.clock = lambda: 10**12  # much later
    assert await store.prune(3600) == 1 and (await store.counts())["sent"] == 0


async def test_a_removed_member_is_sent_nothing(node: Node) -> None:
    bob = await node.members.add(MemberIn(name="Bob", email="bob@example.org"))
    async with node.db.write("test") as conn:
        await outbox.queue(conn, bob.id, "invite", {"url": "u"}, 1)
    await node.members.remove(bob.id)
    assert await node.outbox.claim() is None and (await node.outbox.counts())["queued"] == 0


def test_the_rate_limit_lets_a_tenth_of_a_minute_through_then_paces() -> None:
    from node.mail.sender import Bucket

    now = [0.0]
    bucket = Bucket(120, clock=lambda: now[0])  # 120 a minute: bursts of 12, then one each half second
    assert [bucket.wait_s() for _ in range(12)] == [0.0] * 12
    assert bucket.wait_s() == 0.5
    now[0] += 0.5
    assert bucket.wait_s() == 0.0 and bucket.wait_s() == 0.5
    now[0] += 60
    assert [bucket.wait_s() for _ in range(12)] == [0.0] * 12  # a quiet minute refills the burst, no more
    assert bucket.wait_s() > 0
