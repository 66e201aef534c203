"""A mail from the outbox, composed: plain text and HTML from Jinja2 templates, the headers a
mail client and a mail server expect (RFC 5322), and on notices the one-click unsubscribe of
RFC 8058 (``List-Unsubscribe`` with ``List-Unsubscribe-Post``)."""

from __future__ import annotations

import base64
import email.header
import email.utils
from typing import Any

import jinja2

from node.config import Config
from node.rules.notices import NOTICE_OF, link, unsubscribe_token
from node.storage.outbox import OutMail

SUBJECTS = {
    "invite": "You are invited to {body_name}",
    "reset": "A new password for {body_name}",
    "ballot_opened": "Vote: {subject}",
    "ballot_reminder": "Not voted yet: {subject}",
    "decision": "Decided: {subject}",
    "elections": "Candidates wanted: {office}",
    "digest": "{body_name} today: what is open, what was decided",
}

_loader = jinja2.PackageLoader("node.mail", "templates")
_TEXT = jinja2.Environment(loader=_loader, autoescape=False, undefined=jinja2.StrictUndefined)  # plain text
_HTML = jinja2.Environment(loader=_loader, autoescape=True, undefined=jinja2.StrictUndefined)


def _one_line(text: str, most: int = 150) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def message_id(config: Config, node_key: bytes, mail: OutMail) -> str:
    """The same for every try of one mail: a server that saw it once can tell a repeat."""
    domain = email.utils.parseaddr(config.mail.sender)[1].rpartition("@")[2] or "branchnet.invalid"
    return f"<{mail.id}.{mail.created_at}.{node_key[:6].hex()}@{domain}>"


def _header(value: str) -> str:
    """A header value as RFC 5322 carries it: as it is when plain ASCII, else RFC 2047 words."""
    flat = " ".join(value.split())
    if flat.isascii():
        return flat
    return email.header.Header(flat, "utf-8", maxlinelen=998).encode()


def _mailbox(name: str, address: str) -> str:
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"' if name.isascii() else _header(name)
    return f"{quoted} <{address}>"


def _part(content_type: str, text: str) -> str:
    body = base64.encodebytes(text.encode("utf-8")).decode("ascii")
    return f"Content-Type: {content_type}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}"


def build(headers: list[tuple[str, str]], text: str, html: str | None, boundary: str) -> bytes:
    """A MIME message (RFC 2045/2046): the headers, then the text, or the text and the HTML
    as ``multipart/alternative``. Written directly: the standard library's ``EmailMessage``
    took 4 ms a mail here, on the event loop the pages share (bench/mail.py)."""
    lines = [f"{name}: {value}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    if html is None:
        head = "\r\n".join(lines) + "\r\n" + _part("text/plain", text)
        return head.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    parts = [f"--{boundary}\r\n{_part('text/plain', text)}", f"--{boundary}\r\n{_part('text/html', html)}"]
    raw = "\r\n".join(lines) + "\r\n\r\n" + "".join(parts) + f"--{boundary}--\r\n"
    return raw.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def compose(config: Config, seed: bytes, node_key: bytes, mail: OutMail) -> bytes:
    """The message for one outbox row, to the member's own address only."""
    if mail.kind not in SUBJECTS:
        raise ValueError(f"no template for mail of kind {mail.kind!r}")
    notice = NOTICE_OF[mail.kind]
    unsubscribe = link(config, f"/notices/unsubscribe/{unsubscribe_token(seed, mail.member_id, notice)}") if notice \
        else None  # fmt: skip
    values: dict[str, Any] = {
        **{k: v for k, v in mail.params.items() if isinstance(k, str)},
        "name": mail.name,
        "body_name": config.node.name,
        "notices_url": link(config, "/account") if notice else None,
        "unsubscribe_url": unsubscribe,
        "privacy_url": link(config, "/privacy"),
    }
    subject = _one_line(SUBJECTS[mail.kind].format(**values))
    values["subject_line"] = subject
    headers = [
        ("Subject", _header(subject)),
        ("From", _header(config.mail.sender)),
        ("To", _mailbox(_one_line(mail.name, 100), mail.email)),
        ("Date", email.utils.formatdate(localtime=False)),
        ("Message-ID", message_id(config, node_key, mail)),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies, please
    ]
    if unsubscribe is not None:
        headers += [("List-Unsubscribe", f"<{unsubscribe}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    text = _TEXT.get_template(f"{mail.kind}.txt").render(values)
    html = _HTML.get_template(f"{mail.kind}.html").render(values)
    return build(headers, text, html, f"=_bn_{mail.id}_{mail.created_at}")
