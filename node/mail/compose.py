"""A mail from the outbox, composed: plain text and HTML from Jinja2 templates, the headers a
mail client and a mail server expect (RFC 5322), and on notices the one-click unsubscribe of
RFC 8058 (``List-Unsubscribe`` with ``List-Unsubscribe-Post``)."""

from __future__ import annotations

import email.utils
from email.headerregistry import Address
from email.message import EmailMessage
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


def compose(config: Config, seed: bytes, node_key: bytes, mail: OutMail) -> EmailMessage:
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
    }
    subject = _one_line(SUBJECTS[mail.kind].format(**values))
    values["subject_line"] = subject
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config.mail.sender
    message["To"] = Address(display_name=_one_line(mail.name, 100), addr_spec=mail.email)
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = message_id(config, node_key, mail)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    if unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_TEXT.get_template(f"{mail.kind}.txt").render(values))
    message.add_alternative(_HTML.get_template(f"{mail.kind}.html").render(values),
                            subtype="html")  # fmt: skip
    return message
