"""The node's configuration: one TOML file, with environment-variable overrides.

``DIR/node.toml`` (written by ``branchnet init``)::

    [node]
    name = "Riverside Branch"
    level = "branch"            # branch | region | national | youth

    [http]
    listen = "127.0.0.1:8470"   # host:port; port 0 lets the OS choose
    public_url = "http://127.0.0.1:8470"
    max_body_bytes = 1048576

    [auth]
    session_hours = 336
    invite_hours = 168
    secure_cookies = false      # true behind HTTPS

    [log]
    format = "text"             # text | json
    level = "info"              # debug | info | warning | error

    [federation]
    allow_private_peers = false # fetch from private/loopback addresses (tests, the demo)
    fanout = 3                  # peers each new envelope is pushed to
    sync_interval_ms = 5000     # anti-entropy with one random peer this often
    # and: gossip, seeds, push_interval_ms, verify_threads, verify_processes, quarantine_max, max_batch,
    # max_push_bytes, clock_skew_s, peer_rate, peer_burst, request_timeout_ms

    [mail]                      # nothing is sent while smtp_host is empty
    smtp_host = "smtp.example.org"
    smtp_port = 587
    security = "starttls"       # none | starttls | tls
    username = "branch@example.org"
    password_file = "/run/secrets/smtp"   # or BRANCHNET_MAIL_PASSWORD
    from = "Riverside Branch <branch@example.org>"
    # and: per_minute, timeout_s, give_up_hours, retry_s, reminder_hours, digest_hour

Every key can be overridden by ``BRANCHNET_<SECTION>_<KEY>`` (for example
``BRANCHNET_HTTP_LISTEN=0.0.0.0:8470``). A bad value stops start-up with a message naming
the key and where it came from.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from node.errors import ConfigError as ConfigError  # re-exported: callers import it from here
from node.validation import describe

CONFIG_FILE = "node.toml"
KEY_FILE = "node.key"
DB_FILE = "node.db"
ENV_PREFIX = "BRANCHNET_"

Level = Literal["branch", "region", "national", "youth"]
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


class NodeSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    level: Level


Network = Annotated[str, Meta(max_length=64, pattern=r"^[0-9A-Fa-f.:]+(/[0-9]{1,3})?\Z")]


class HttpSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The HTTP server and its limits (docs/operating.md, "Limits and abuse")."""

    listen: str = "127.0.0.1:8470"
    public_url: Annotated[str, Meta(pattern=r"^https?://[^\s/]+(/[^\s]*)?\Z")] = "http://127.0.0.1:8470"
    max_body_bytes: Annotated[int, Meta(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    body_timeout_s: Annotated[int, Meta(ge=1, le=3600)] = 30
    idle_timeout_s: Annotated[int, Meta(ge=1, le=3600)] = 15
    max_connections: Annotated[int, Meta(ge=16, le=1_000_000)] = 4096
    max_connections_per_address: Annotated[int, Meta(ge=1, le=1_000_000)] = 128
    max_head_bytes: Annotated[int, Meta(ge=4096, le=1024 * 1024)] = 32 * 1024
    max_header_lines: Annotated[int, Meta(ge=8, le=1024)] = 64
    trusted_proxies: Annotated[list[Network], Meta(max_length=64)] = []

    def host_port(self) -> tuple[str, int]:
        match = _LISTEN.match(self.listen)
        if match is None:
            raise ConfigError(f"http.listen: {self.listen!r} is not HOST:PORT")
        port = int(match.group("port"))
        if port > 65535:
            raise ConfigError(f"http.listen: port {port} is out of range")
        return match.group("host").strip("[]"), port


class AuthSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    session_hours: Annotated[int, Meta(ge=1, le=24 * 365)] = 336
    invite_hours: Annotated[int, Meta(ge=1, le=24 * 90)] = 168
    secure_cookies: bool = False
    token_max_days: Annotated[int, Meta(ge=0, le=3650)] = 0
    login_failures_per_account: Annotated[int, Meta(ge=1, le=1000)] = 5
    login_failures_per_address: Annotated[int, Meta(ge=1, le=100_000)] = 30
    login_window_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 15
    # What one member's requests may have the node sign (closing ballots and mandates aside).
    member_signatures_per_hour: Annotated[int, Meta(ge=1, le=100_000)] = 60
    member_signatures_per_day: Annotated[int, Meta(ge=1, le=1_000_000)] = 400


class LogSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class FederationSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Gossip and federation limits (docs/federation.md, "Limits")."""

    gossip: bool = True
    allow_private_peers: bool = False
    seeds: Annotated[list[Annotated[str, Meta(pattern=r"^https?://[^\s/]+(/[^\s]*)?\Z")]], Meta(max_length=64)] = []
    fanout: Annotated[int, Meta(ge=1, le=16)] = 3
    sync_interval_ms: Annotated[int, Meta(ge=50, le=3_600_000)] = 5_000
    push_interval_ms: Annotated[int, Meta(ge=10, le=60_000)] = 200
    verify_threads: Annotated[int, Meta(ge=1, le=64)] = 2
    verify_processes: bool = True
    quarantine_max: Annotated[int, Meta(ge=0, le=10_000_000)] = 10_000
    quarantine_max_bytes: Annotated[int, Meta(ge=0, le=1 << 40)] = 256 * 1024 * 1024
    quarantine_unknown_percent: Annotated[int, Meta(ge=0, le=100)] = 50
    quarantine_hours: Annotated[int, Meta(ge=1, le=24 * 365)] = 168
    max_batch: Annotated[int, Meta(ge=1, le=10_000)] = 1_000
    max_push_bytes: Annotated[int, Meta(ge=65_536, le=256 * 1024 * 1024)] = 16 * 1024 * 1024
    clock_skew_s: Annotated[int, Meta(ge=5, le=3_600)] = 300
    peer_rate: Annotated[int, Meta(ge=1, le=100_000)] = 50
    peer_burst: Annotated[int, Meta(ge=1, le=100_000)] = 200
    request_timeout_ms: Annotated[int, Meta(ge=100, le=600_000)] = 10_000
    slow_answer_ms: Annotated[int, Meta(ge=50, le=600_000)] = 3_000
    joins_pending_max: Annotated[int, Meta(ge=1, le=100_000)] = 100
    joins_per_address: Annotated[int, Meta(ge=1, le=100_000)] = 5
    join_hours: Annotated[int, Meta(ge=1, le=24 * 365)] = 168


class MailSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Mail to members through an SMTP server (docs/operating.md, "Mail"). With no
    ``smtp_host`` nothing is sent: officers see the links to pass on by hand."""

    smtp_host: Annotated[str, Meta(max_length=253, pattern=r"^[^\s/:]*\Z")] = ""
    smtp_port: Annotated[int, Meta(ge=1, le=65535)] = 587
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: Annotated[str, Meta(max_length=320)] = ""
    password: Annotated[str, Meta(max_length=1000)] = ""  # better from BRANCHNET_MAIL_PASSWORD
    password_file: Annotated[str, Meta(max_length=4096)] = ""  # or from this file (its first line)
    sender: Annotated[str, Meta(max_length=320, pattern=r"^([^<>@\s][^<>]*<)?[^<>@\s]+@[^<>@\s]+>?\Z")] = (
        msgspec.field(default="", name="from"))  # fmt: skip
    per_minute: Annotated[int, Meta(ge=1, le=100_000)] = 120  # what the relay allows
    timeout_s: Annotated[int, Meta(ge=1, le=600)] = 30
    give_up_hours: Annotated[int, Meta(ge=1, le=24 * 30)] = 48  # then a mail is failed
    retry_s: Annotated[int, Meta(ge=1, le=3600)] = 60  # the first wait after a failure; it doubles, to an hour
    reminder_hours: Annotated[int, Meta(ge=1, le=24 * 30)] = 24  # before a ballot closes
    digest_hour: Annotated[int, Meta(ge=0, le=23)] = 7  # the daily digest goes after this hour (UTC)

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host)


class RetentionSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How long the node keeps members' personal data (docs/operating.md, "Retention"); the
    node applies it by itself, hourly."""

    lapsed_months: Annotated[int, Meta(ge=1, le=240)] = 24  # a member lapsed this long is forgotten
    secrets_days: Annotated[int, Meta(ge=1, le=3650)] = 90  # sessions, invites, reset links
    mail_days: Annotated[int, Meta(ge=1, le=3650)] = 90  # what a mail said (sent mail keeps none)
    access_months: Annotated[int, Meta(ge=1, le=240)] = 24  # the record of who looked
    register_months: Annotated[int, Meta(ge=1, le=240)] = 6  # a counted ballot's signed participations


class BackupSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who can read this node's backups: age recipients ("age1..."), whose identities are kept
    off the server (docs/operating.md, "Backup and restore")."""

    recipients: Annotated[list[Annotated[str, Meta(max_length=200)]], Meta(max_length=16)] = []


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    node: NodeSection
    http: HttpSection = msgspec.field(default_factory=HttpSection)
    auth: AuthSection = msgspec.field(default_factory=AuthSection)
    log: LogSection = msgspec.field(default_factory=LogSection)
    federation: FederationSection = msgspec.field(default_factory=FederationSection)
    mail: MailSection = msgspec.field(default_factory=MailSection)
    retention: RetentionSection = msgspec.field(default_factory=RetentionSection)
    backup: BackupSection = msgspec.field(default_factory=BackupSection)


def _env_value(raw: str) -> Any:
    """Environment values are TOML scalars when they parse as one, else plain strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    sections = {name: set(t.__struct_encode_fields__) for name, t in _SECTIONS.items()}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in sections:
            continue  # not a config key (BRANCHNET_DIR and the like)
        if key not in sections[section]:
            known = ", ".join(f"{ENV_PREFIX}{section.upper()}_{k.upper()}" for k in sorted(sections[section]))
            raise ConfigError(f"{name}: there is no key {section}.{key} (known: {known})")
        data.setdefault(section, {})[key] = _env_value(raw)
    return data


_SECTIONS: dict[str, type[msgspec.Struct]] = {
    "node": NodeSection,
    "http": HttpSection,
    "auth": AuthSection,
    "log": LogSection,
    "federation": FederationSection,
    "mail": MailSection,
    "retention": RetentionSection,
    "backup": BackupSection,
}


def parse_config(text: str, source: str, environ: Mapping[str, str] | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    data = apply_env(data, os.environ if environ is None else environ)
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        message, field = describe(exc)
        env_name = f"{ENV_PREFIX}{field.replace('.', '_').upper()}" if field else None
        origin = f" (or {env_name})" if env_name and env_name in (environ or os.environ) else ""
        raise ConfigError(f"{source}: {field or 'config'}{origin}: {message}") from None
    config.http.host_port()
    mail = config.mail
    if mail.enabled and not mail.sender:
        raise ConfigError(f"{source}: mail.from: mail is on (mail.smtp_host is set) but says no From address")
    if mail.password and mail.password_file:
        raise ConfigError(f"{source}: mail.password and mail.password_file are both set: keep one")
    for network in config.http.trusted_proxies:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"{source}: http.trusted_proxies: {network!r} is not an address or network") from None
    return config


def load_config(directory: Path, environ: Mapping[str, str] | None = None) -> Config:
    path = directory / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no {CONFIG_FILE} in {directory} (run `branchnet init --dir {directory}` first)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse_config(text, str(path), environ)


def render_config(name: str, level: str, listen: str, public_url: str, allow_private_peers: bool = False) -> str:
    """The TOML that ``branchnet init`` writes."""
    quoted = {k: msgspec.json.encode(v).decode() for k, v in
              {"name": name, "level": level, "listen": listen, "public_url": public_url}.items()}  # fmt: skip
    return (
        "# branchnet node configuration. Every key can be overridden by BRANCHNET_<SECTION>_<KEY>.\n"
        "[node]\n"
        f"name = {quoted['name']}\n"
        f"level = {quoted['level']}\n\n"
        "[http]\n"
        f"listen = {quoted['listen']}\n"
        f"public_url = {quoted['public_url']}\n"
        "max_body_bytes = 1048576\n\n"
        "[auth]\n"
        "session_hours = 336\n"
        "invite_hours = 168\n"
        "secure_cookies = false\n\n"
        "[log]\n"
        'format = "text"\n'
        'level = "info"\n\n'
        "[federation]\n"
        "# Fetching from private, loopback and link-local addresses is refused unless this is true.\n"
        f"allow_private_peers = {'true' if allow_private_peers else 'false'}\n"
        "fanout = 3\n"
        "sync_interval_ms = 5000\n"
    )
