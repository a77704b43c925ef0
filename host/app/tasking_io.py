"""Signed tasking files: check, mask for display, cut into TASKING frames.

Placeholder until firmware/tasking.py lands.
"""

from firmware import protocol

#: Tasking bytes per TASKING frame (payload 240 minus chunk_index and chunk_count).
CHUNK_BYTES = protocol.MAX_PAYLOAD - protocol.PAYLOAD_SIZE[protocol.TASKING]


class TaskingRejected(Exception):
    """A tasking that must not be sent; the message is one line for the operator."""


def read_signed_tasking(path):
    raise TaskingRejected(f"{path}: cannot check tasking signatures yet")


def tasking_messages(blob):
    """Return ``(TASKING, (index, count), chunk)`` triples carrying ``blob``."""
    chunks = [blob[i:i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
    return [(protocol.TASKING, (i, len(chunks)), c) for i, c in enumerate(chunks)]
