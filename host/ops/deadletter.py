"""The operations centre's dead-letter file: every refused feed message, one JSON line each.

A message the centre cannot archive (outside the schema, not JSON, too large...)
is written here and then acknowledged, so the broker does not deliver it again and
the centre goes on with the next one. Each line holds the topic, the centre's
clock, the reason, the payload size and the payload's first `KEEP_BYTES` bytes in
base64: enough to see who sent what, bounded whatever was sent.
"""

import base64
import json
import os
from pathlib import Path

KEEP_BYTES = 4096


class DeadLetters:
    """Append refused messages to a JSON-lines file (created 0600: payloads may be personal data).

    Parameters
    ----------
    path : path-like
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._dirty = False
        self.count = 0

    def add(self, topic, payload, reason, time_s):
        """Write one refused message (``topic`` str, or bytes when it was not UTF-8)."""
        payload = bytes(payload)
        line = {"time_s": round(time_s, 3), "reason": reason, "size": len(payload),
                "payload_b64": base64.b64encode(payload[:KEEP_BYTES]).decode("ascii"),
                "truncated": len(payload) > KEEP_BYTES}
        if isinstance(topic, str):
            line["topic"] = topic
        else:
            line["topic_b64"] = base64.b64encode(bytes(topic)[:KEEP_BYTES]).decode("ascii")
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._dirty = True
        self.count += 1

    def flush(self):
        """Make the lines written so far durable; called before they are acknowledged."""
        if self._dirty:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._dirty = False

    def close(self):
        self.flush()
        self._file.close()


def read(path):
    """The dead-letter lines of `path` as dicts, ``payload`` decoded to bytes."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        entry["payload"] = base64.b64decode(entry.pop("payload_b64"))
        out.append(entry)
    return out
