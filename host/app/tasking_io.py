"""Signed tasking files for the console: check the signature, mask, cut into TASKING frames.

The check is ``firmware.tasking.check`` (HMAC-SHA256 under the operator key,
validity window), the same code the handheld runs, so a tasking the console
accepts is one the handheld accepts.  Nothing is sent unless it verifies.
"""

import binascii
import time

from firmware import protocol, tasking
from host.session import mask_tasking

#: Tasking bytes per TASKING frame (payload 240 minus chunk_index and chunk_count).
CHUNK_BYTES = protocol.MAX_PAYLOAD - protocol.PAYLOAD_SIZE[protocol.TASKING]


class TaskingRejected(Exception):
    """A tasking that must not be sent; the message is one line for the operator."""


def read_key(path):
    """Read the operator key: a file holding the key as hex (as provisioned on the handheld)."""
    try:
        text = open(path, encoding="ascii").read().strip()
        key = binascii.unhexlify(text)
    except (OSError, UnicodeError, ValueError, binascii.Error) as exc:
        raise TaskingRejected(f"operator key file {path}: unreadable ({exc}); it must hold the "
                              "key as hexadecimal digits") from None
    if not key:
        raise TaskingRejected(f"operator key file {path}: empty; it must hold the key as hex")
    return key


def read_signed_tasking(path, key, now_s=None):
    """Check a signed tasking file.

    Returns
    -------
    blob : bytes
        The signed tasking, to be sent as it is.
    masked : dict
        Its body with every IMSI masked, for display.

    Raises
    ------
    TaskingRejected
        Unreadable, bad signature, malformed, expired or not yet valid.
    """
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as exc:
        raise TaskingRejected(f"tasking {path}: cannot read ({exc.strerror})") from None
    try:
        body, _digest = tasking.check(blob, key, time.time() if now_s is None else now_s)
    except tasking.TaskingError as exc:
        what = {tasking.BAD_SIGNATURE: "signature does not verify with the operator key",
                tasking.EXPIRED: "has expired", tasking.NOT_YET_VALID: "is not valid yet",
                tasking.MALFORMED: "is malformed"}.get(exc.reason, exc.reason)
        hint = ("ask the issuer for a correctly signed tasking, or check the key file"
                if exc.reason == tasking.BAD_SIGNATURE else "ask the issuer for a new tasking")
        raise TaskingRejected(f"tasking {path} {what} ({exc.detail}); not sent: {hint}") from None
    return blob, mask_tasking(body)


def tasking_messages(blob):
    """Return ``(TASKING, (index, count), chunk)`` triples carrying ``blob``."""
    chunks = [blob[i:i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
    return [(protocol.TASKING, (i, len(chunks)), c) for i, c in enumerate(chunks)]
