"""Where the broker is and how to log in: ``--broker`` URL, TLS and credential options.

No paho here: every ``rfhound`` invocation builds all sub-command parsers.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from host.errors import UserError

PASSWORD_ENV = "RFHOUND_MQTT_PASSWORD"


@dataclass(frozen=True)
class BrokerConfig:
    """How to reach and log in to one broker."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    insecure: bool = False
    allow_insecure: bool = False

    @property
    def anonymous(self):
        """True when the broker would not know who we are (no user name, no client certificate)."""
        return self.username is None and self.certfile is None

    def check_secure(self):
        """Raise `UserError` for a plain-TCP or anonymous connection not explicitly allowed."""
        if self.allow_insecure:
            return
        if not self.tls:
            raise UserError(f"broker {self.url} is plain TCP: the password and every record would cross "
                            "the network readable; use mqtts:// (with --cafile), or add --allow-insecure "
                            "for a test broker")
        if self.anonymous:
            raise UserError(f"broker {self.url} would be used anonymously: anyone could then publish or "
                            "read as us; give --username or --certfile, or add --allow-insecure "
                            "for a test broker")

    @property
    def url(self):
        """The broker as ``mqtt[s]://host:port`` (no credentials)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def add_broker_arguments(parser, required=True):
    """Add ``--broker`` and the TLS / login options to an argparse parser."""
    parser.add_argument("--broker", required=required, metavar="URL",
                        help="mqtt://HOST[:PORT] (default port 1883) or mqtts://HOST[:PORT] (TLS, 8883)")
    parser.add_argument("--username", help="broker user name")
    parser.add_argument("--password-file", metavar="FILE",
                        help=f"file whose first line is the broker password (else ${PASSWORD_ENV})")
    parser.add_argument("--cafile", metavar="PEM",
                        help="CA certificate(s) to verify the broker; implies TLS (default: system CAs)")
    parser.add_argument("--certfile", metavar="PEM", help="client certificate for TLS client authentication")
    parser.add_argument("--keyfile", metavar="PEM", help="private key of --certfile")
    parser.add_argument("--insecure", action="store_true",
                        help="TLS without checking the broker's host name (test brokers only)")
    parser.add_argument("--allow-insecure", action="store_true",
                        help="accept a plain-TCP (mqtt://) broker or a login without user name or "
                             "client certificate (test brokers on one machine only)")


def _read_optional(path, what):
    if path is None:
        return None
    if not Path(path).is_file():
        raise UserError(f"{what} {path} does not exist; give a readable file")
    return str(path)


def config_from_args(args):
    """Build a `BrokerConfig` from parsed arguments; bad input raises `UserError`."""
    parts = urlsplit(args.broker)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise UserError(f"--broker {args.broker!r} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    if parts.username or parts.password:
        raise UserError("--broker must not carry credentials; use --username and --password-file")
    try:
        port = parts.port
    except ValueError:
        raise UserError(f"--broker {args.broker!r} has a bad port; use a number 1-65535") from None
    password = None
    if args.password_file:
        path = Path(args.password_file)
        if not path.is_file():
            raise UserError(f"--password-file {path} does not exist; give a file with the password")
        lines = path.read_text().splitlines()
        password = lines[0] if lines else ""
    elif os.environ.get(PASSWORD_ENV) is not None:
        password = os.environ[PASSWORD_ENV]
    if password is not None and not args.username:
        raise UserError("a broker password was given without --username")
    if args.keyfile and not args.certfile:
        raise UserError("--keyfile needs --certfile")
    tls = parts.scheme == "mqtts" or bool(args.cafile or args.certfile)
    config = BrokerConfig(
        host=parts.hostname, port=port or (8883 if tls else 1883), tls=tls,
        username=args.username, password=password,
        cafile=_read_optional(args.cafile, "--cafile"),
        certfile=_read_optional(args.certfile, "--certfile"),
        keyfile=_read_optional(args.keyfile, "--keyfile"),
        insecure=args.insecure, allow_insecure=args.allow_insecure)
    config.check_secure()
    return config
