"""Sending the outbox over SMTP (aiosmtplib), in the background of ``serve``.

One mail at a time, through one connection kept open while there is mail to send: claim it
(``sending``, committed), send it, mark it ``sent``; no faster than ``mail.per_minute``. A
refusal for good (a 5xx answer to the recipient or the message) fails that mail, with the
server's words, for officers to see; anything else (no connection, a timeout, a 4xx) puts it
back with a wait that doubles from ``mail.retry_s`` to an hour, and pauses the sending for
that wait: a server that is down is not hammered with every queued mail. A mail not sent
within ``mail.give_up_hours`` of being queued is failed.

A crash between a server's "250 OK" and our record of it is the one moment a mail can go
twice: the row is still ``sending`` at the next start and is sent again, with the same
Message-ID (mail servers drop a repeat they recognise). Everywhere else each mail goes once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosmtplib

from node.config import Config, ConfigError, MailSection
from node.mail.compose import build, compose
from node.rules.notices import ballot_params, digest_params, elections_params
from node.storage.outbox import OutboxStore, OutMail

log = logging.getLogger("branchnet.mail")

REMINDER_SCAN_S = 60.0
KEEP_DAYS = 180  # sent and failed mail is listed this long, then forgotten (the table stays bounded)
IDLE_LOOK_S = 10.0  # mail queued by another process (the command line) is sent within this
MAX_BACKOFF_S = 3600
MESSAGES_PER_CONNECTION = 100


_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


def scrubbed(text: str) -> str:
    """A server's words fit for the log, which holds no personal data: addresses taken out
    (a refusal often names the mailbox). The outbox keeps the words whole, for officers."""
    return _ADDRESS.sub("<address>", text)[:300]


def relay_domain(mail: MailSection) -> str:
    return email.utils.parseaddr(mail.sender)[1].rpartition("@")[2] or "branchnet.invalid"


# (selection id, office, the body choosing, when nominations close in ms) of each election open now
OpenElections = Callable[[], Awaitable[list[tuple[bytes, str, str, int]]]]


class Refused(Exception):
    """The server refused this mail for good (a 5xx answer): sending it again would not help."""


class NotNow(Exception):
    """The mail could not be sent now (no connection, a timeout, a 4xx): try again later."""


def smtp_password(mail: MailSection, directory: Path) -> str:
    """``mail.password``, or the first line of ``mail.password_file`` (relative to the node's
    folder); ConfigError naming the file if it cannot be read."""
    if not mail.password_file:
        return mail.password
    path = Path(mail.password_file)
    path = path if path.is_absolute() else directory / path
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mail.password_file: cannot read {path}: {exc}") from None
    return lines[0] if lines else ""


class Relay:
    """The SMTP server of ``[mail]``: one connection, opened when needed, reused for up to
    :data:`MESSAGES_PER_CONNECTION` messages."""

    def __init__(self, mail: MailSection, password: str) -> None:
        self.mail = mail
        self.password = password
        self._smtp: aiosmtplib.SMTP | None = None
        self._sent_here = 0

    async def _connect(self) -> aiosmtplib.SMTP:
        m = self.mail
        smtp = aiosmtplib.SMTP(hostname=m.smtp_host, port=m.smtp_port, timeout=m.timeout_s,
                               use_tls=m.security == "tls", start_tls=m.security == "starttls")  # fmt: skip
        await smtp.connect()
        if m.username:
            await smtp.login(m.username, self.password)
        return smtp

    async def send(self, message: bytes, to: str) -> str:
        """Send one message to ``to`` only; the server's answer. Raises :class:`Refused` or
        :class:`NotNow`."""
        try:
            if self._smtp is None or not self._smtp.is_connected or self._sent_here >= MESSAGES_PER_CONNECTION:
                await self.close()
                self._smtp = await self._connect()
                self._sent_here = 0
            _, answer = await self._smtp.sendmail(self._envelope_from(), [to], message)
            self._sent_here += 1
            return answer
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self.close()
            refusals = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if all(r.code >= 500 for r in exc.recipients):
                raise Refused(refusals) from None
            raise NotNow(refusals) from None
        except aiosmtplib.SMTPAuthenticationError as exc:  # our settings, not this mail: try later
            await self.close()
            raise NotNow(f"the server refused our login: {exc.code} {exc.message}") from None
        except aiosmtplib.SMTPResponseException as exc:
            await self.close()
            if exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPHeloError):
                raise Refused(f"{exc.code} {exc.message}") from None
            raise NotNow(f"{exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            raise NotNow(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    def _envelope_from(self) -> str:
        return email.utils.parseaddr(self.mail.sender)[1]

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await smtp.quit(timeout=5)
            smtp.close()


class Bucket:
    """At most ``per_minute`` mails a minute, in bursts of at most a tenth of that."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.size = max(1.0, per_minute / 10)
        self.tokens = self.size
        self.clock = clock
        self.at = clock()

    def wait_s(self) -> float:
        """Take one token, or say how long to wait before asking again."""
        now = self.clock()
        self.tokens = min(self.size, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Sender:
    """The outbox's sender, run by ``serve`` while ``[mail]`` has a server."""

    def __init__(self, config: Config, outbox: OutboxStore, seed: bytes, node_key: bytes, password: str,
                 clock: Callable[[], float] = time.time, elections: OpenElections | None = None) -> None:  # fmt: skip
        self.config = config
        self.outbox = outbox
        self.seed = seed
        self.node_key = node_key
        self.relay = Relay(config.mail, password)
        self.bucket = Bucket(config.mail.per_minute)
        self.clock = clock
        self.elections = elections  # selections open for candidates now (serve passes the node's)
        self._wake = asyncio.Event()  # mail was queued (set by the outbox; cleared before each claim)
        self._halt = asyncio.Event()  # the node is stopping
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._next_scan = 0.0

    def start(self) -> None:
        self.outbox.on_queued = self._wake.set
        self._task = asyncio.create_task(self._run(), name="mail sender")

    def look_now(self) -> None:
        """Scan for reminders and elections now rather than at the next minute."""
        self._next_scan = 0.0
        self._wake.set()

    async def stop(self) -> None:
        """Let the mail being sent finish (up to the SMTP timeout), then stop."""
        self._stopping = True
        self._halt.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), self.config.mail.timeout_s + 5)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.relay.close()

    async def _pause(self, seconds: float, *, for_mail: bool = True) -> None:
        """Sleep until ``seconds`` pass or the node stops, or (``for_mail``) something is queued
        meanwhile; a back-off after a failure is not cut short by new mail, so a server that
        is down is not tried again with every mail queued."""
        if seconds <= 0 or self._stopping:
            return
        events = [self._halt.wait()] + ([self._wake.wait()] if for_mail else [])
        waiters = [asyncio.ensure_future(e) for e in events]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _run(self) -> None:
        again = await self.outbox.recover()
        if again:
            log.warning("%d mail(s) were being sent when the node stopped; sending them again (same Message-ID)",
                        again)  # fmt: skip
        while not self._stopping:
            try:
                self._wake.clear()  # before looking: mail queued from here on wakes the pause below
                await self._scan_reminders()
                mail = await self.outbox.claim()
                if mail is None:
                    await self.relay.close()
                    due = await self.outbox.next_due()
                    wait = IDLE_LOOK_S if due is None else max(0.0, min(IDLE_LOOK_S, due - self.clock()))
                    await self._pause(min(wait, max(0.05, self._next_scan - time.monotonic())))
                    continue
                await self._one(mail)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a database problem: say so, and keep the node up
                log.exception("the mail sender failed; trying again in %d s", self.config.mail.retry_s)
                await self._pause(self.config.mail.retry_s, for_mail=False)

    async def _scan_reminders(self) -> None:
        if time.monotonic() < self._next_scan:
            return
        self._next_scan = time.monotonic() + REMINDER_SCAN_S
        await self.outbox.prune(KEEP_DAYS * 86_400)
        for ballot_id, subject, closes in await self.outbox.due_reminders(self.config.mail.reminder_hours):
            queued = await self.outbox.remind(ballot_id, ballot_params(self.config, ballot_id, subject, closes))
            log.info("reminders queued", extra={"fields": {"ballot_id": ballot_id, "mails": queued}})
        await self._digest()
        for selection, office, by, closes in await self.elections() if self.elections is not None else []:
            params = elections_params(self.config, selection, office, by, closes)
            queued = await self.outbox.announce("elections", "elections", f"elections:{selection.hex()}", params)
            if queued:
                log.info("election notices queued", extra={"fields": {"selection": selection.hex(), "mails": queued}})

    async def _digest(self) -> None:
        """Once a day, after ``mail.digest_hour`` (UTC), to each member who asked: what is open
        to vote on and what was decided since yesterday, if anything (once per member and day)."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        if now.hour < self.config.mail.digest_hour:
            return
        day = now.date().isoformat()
        since = int((now - dt.timedelta(days=1)).timestamp() * 1000)
        open_ballots, decided = await self.outbox.digest_items(since)
        if not open_ballots and not decided:
            return
        params = digest_params(self.config, now.strftime("%A %d %B %Y"), open_ballots, decided)
        queued = await self.outbox.announce("digest", "digest", f"digest:{day}", params)
        if queued:
            log.info("digests queued", extra={"fields": {"day": day, "mails": queued}})

    async def _one(self, mail: OutMail) -> None:
        fields = {"mail_id": mail.id, "kind": mail.kind, "member_id": mail.member_id, "attempt": mail.attempts}
        if self.clock() - mail.created_at > self.config.mail.give_up_hours * 3600:
            await self.outbox.failed(mail.id, f"not sent within {self.config.mail.give_up_hours} hours")
            log.warning("mail given up", extra={"fields": fields})
            return
        wait = self.bucket.wait_s()
        while wait > 0 and not self._stopping:
            await asyncio.sleep(min(wait, 1.0))
            wait = self.bucket.wait_s()
        try:
            message = compose(self.config, self.seed, self.node_key, mail)
        except Exception as exc:  # a template or its values: this mail can never be sent
            await self.outbox.failed(mail.id, f"could not be composed: {exc}")
            log.exception("mail could not be composed", extra={"fields": fields})
            return
        try:
            answer = await self.relay.send(message, mail.email)
        except Refused as exc:
            await self.outbox.failed(mail.id, str(exc))
            log.warning("mail refused", extra={"fields": {**fields, "answer": scrubbed(str(exc))}})
            return
        except NotNow as exc:
            wait_s = min(self.config.mail.retry_s * 2 ** (mail.attempts - 1), MAX_BACKOFF_S)
            await self.outbox.retry(mail.id, int(self.clock()) + wait_s, str(exc))
            log.warning("mail not sent, trying again later",
                        extra={"fields": {**fields, "error": scrubbed(str(exc)), "retry_in_s": wait_s}})  # fmt: skip
            await self._pause(wait_s, for_mail=False)  # the server is not taking mail: not every other one now
            return
        await self.outbox.sent(mail.id)
        log.info("mail sent", extra={"fields": {**fields, "answer": scrubbed(answer)}})


async def send_test(config: Config, password: str, to: str) -> str:
    """One test message to ``to`` (``branchnet mail test``): the server's answer, or
    :class:`Refused` / :class:`NotNow` saying what went wrong."""
    headers = [("Subject", f"Test mail from {' '.join(config.node.name.split())}"), ("From", config.mail.sender),
               ("To", to), ("Date", email.utils.formatdate(localtime=False)),
               ("Message-ID", email.utils.make_msgid(domain=relay_domain(config.mail))),
               ("Auto-Submitted", "auto-generated")]  # fmt: skip
    text = f"This is a test from the branchnet node {config.node.name}: its mail settings work.\n"
    relay = Relay(config.mail, password)
    try:
        return await relay.send(build(headers, text, None, ""), to)
    finally:
        await relay.close()
