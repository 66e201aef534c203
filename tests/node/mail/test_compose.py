"""A mail as composed: what a mail reader parses from it (the standard library's parser, not
ours), with hostile names and non-ASCII text."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from node.config import parse_config
from node.mail.compose import compose
from node.rules.notices import read_unsubscribe
from node.storage.outbox import OutMail

CONFIG = parse_config(
    '[node]\nname = "Riverside Branch"\nlevel = "branch"\n[http]\npublic_url = "https://r.example.org"\n'
    '[mail]\nsmtp_host = "smtp.example.org"\nfrom = "Riverside <branch@example.org>"\n', "t", {})
SEED, KEY = b"s" * 32, b"k" * 32


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_name_cannot_add_a_header_or_a_recipient() -> None:
    hostile = {"subject": "Fund it\r\nBcc: eve@example.org", "closes": "Friday", "url": "https://r/b/1"}
    mail = OutMail(7, 3, "ann@example.org", "Ann\r\nBcc: eve@example.org", "ballot_opened", hostile, 1, 100)
    message = parsed(compose(CONFIG, SEED, KEY, mail))
    assert "Bcc" not in message
    assert [a.addr_spec for a in message["To"].addresses] == ["ann@example.org"]
    assert message["Subject"] == "Vote: Fund it Bcc: eve@example.org"  # folded into one line, harmless


def test_non_ascii_text_and_the_one_click_headers() -> None:
    values = {"subject": "Budget — £200 for the food bank", "closes": "Friday", "url": "https://r/b/2"}
    mail = OutMail(8, 4, "zoe@example.org", "Zoë Ö'Brien", "ballot_reminder", values, 2, 100)
    raw = compose(CONFIG, SEED, KEY, mail)
    assert raw.isascii() and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    message = parsed(raw)
    assert message["Subject"] == "Not voted yet: Budget — £200 for the food bank"
    assert message["To"].addresses[0].display_name == "Zoë Ö'Brien"
    assert message["Message-ID"] == f"<8.100.{KEY[:6].hex()}@example.org>"  # the same on every try
    body = message.get_body(("plain",))
    assert body is not None and "Dear Zoë Ö'Brien" in body.get_content() and "£200" in body.get_content()
    html = message.get_body(("html",))
    assert html is not None and "Zoë Ö&#39;Brien" in html.get_content()  # escaped in HTML
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://r.example.org/notices/unsubscribe/")
    assert read_unsubscribe(SEED, url.rsplit("/", 1)[1]) == (4, "ballots")
    assert read_unsubscribe(b"t" * 32, url.rsplit("/", 1)[1]) is None  # another node's key: not ours


def test_an_invite_carries_its_link_and_no_unsubscribe() -> None:
    mail = OutMail(9, 5, "new@example.org", "New Member", "invite",
                   {"url": "https://r.example.org/invite/bni_x", "expires": "Friday"}, 1, 100)  # fmt: skip
    message = parsed(compose(CONFIG, SEED, KEY, mail))
    assert message["Subject"] == "You are invited to Riverside Branch"
    assert "List-Unsubscribe" not in message
    for kind in ("plain", "html"):
        part = message.get_body((kind,))
        assert part is not None and "https://r.example.org/invite/bni_x" in part.get_content()


def test_the_log_gets_a_servers_words_without_addresses() -> None:
    from node.mail.sender import scrubbed

    words = "550 5.1.1 <ann@example.org>: Recipient address rejected: ann@example.org unknown"
    assert scrubbed(words) == "550 5.1.1 <address>: Recipient address rejected: <address> unknown"
