"""The operations-centre subscriber: every team's feed into the archive and the hunt board.

It subscribes to ``rfhound/v1/+/+/+`` with QoS 1 on a persistent MQTT session, so
records published while it is away are queued for it by the broker. A message is
acknowledged (PUBACK) only after it is committed to the archive, and shown on the
board only then; then the centre publishes its own receipt for it to the team
(``rfhound/receipts/v1/<team>/<session_id>``), which is what lets the relay forget it.
A message outside the schema is written to the dead-letter file, acknowledged
and skipped: no payload can stop the centre.

The client id under which the broker keeps the centre's queue is a secret made
at the first start and kept in the archive (``_centre/client-id``, mode 0600): a
team account that knew it could take the queue over.
"""

import collections
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from host.errors import UserError
from host.ops import envelope, topics
from host.ops.archive import Archive
from host.ops.broker import FailureNotes, make_client
from host.ops.deadletter import DeadLetters
from host.ops.hunts import HuntBoard

log = logging.getLogger("rfhound.ops.centre")

# Stored messages are committed and acknowledged together, every FLUSH_S or every
# BATCH_MAX messages: one SQLite commit per message would cap the centre near
# 4000 records/s on a laptop.
FLUSH_S = 0.02
BATCH_MAX = 500
# Links that drop within QUICK_DROP_S of connecting, after the centre published
# receipts on them, this many times in a row: the broker refuses the receipts
# (Mosquitto 2.0 closes the connection of a client publishing where its ACL forbids).
QUICK_DROP_S = 5.0
QUICK_DROPS_MAX = 3
# The centre's own files live beside the team folders under a name no team can
# have (a team name starts with a letter or digit).
STATE_DIR = "_centre"
CLIENT_ID_FILE = "client-id"
DEAD_LETTER_FILE = "dead-letters.jsonl"


def centre_client_id(archive_dir):
    """The centre's secret MQTT client id: read from the archive, or made there (0600) at first use."""
    state = Path(archive_dir) / STATE_DIR
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state / CLIENT_ID_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        client_id = path.read_text(encoding="ascii", errors="replace").strip()
        if not client_id or len(client_id) > 128 or not client_id.isprintable():
            raise UserError(f"{path}: not a client id; delete it to make a new one (the broker's queue "
                            "for the old id is then lost: start the new centre before the teams publish)")
        return client_id
    client_id = "rfhound-ops-" + secrets.token_hex(16)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(client_id + "\n")
    return client_id


class OpsCentre(FailureNotes):
    """Subscribe to all teams, archive every session, keep the live-hunt board.

    Parameters
    ----------
    config : host.ops.options.BrokerConfig
    archive_dir : path-like
    client_id : str, optional
        MQTT client id: the broker keeps this centre's queue under it. Default:
        the secret kept in the archive (`centre_client_id`).
    on_record : callable, optional
        ``on_record(envelope, new)`` after each archived message (paho's thread).
    receipts : bool
        Publish receipts (default). Off only for ``bench/ops_throughput.py``'s
        comparison with relays that count a broker PUBACK as delivery.
    """

    _log = log

    def __init__(self, config, archive_dir, *, client_id=None, on_record=None, receipts=True):
        self.config = config
        self.archive = Archive(archive_dir)
        self.client_id = client_id or centre_client_id(archive_dir)
        self.dead_letters = DeadLetters(self.archive.root / STATE_DIR / DEAD_LETTER_FILE)
        self.board = HuntBoard()
        self.on_record = on_record
        self.receipts = receipts
        # stored / duplicates count session records; meta counts metadata messages;
        # malformed ones went to the dead-letter file; receipts were published.
        self.stats = {"received": 0, "stored": 0, "duplicates": 0, "meta": 0, "malformed": 0,
                      "receipts": 0, "connects": 0}
        self.subscribed = threading.Event()
        self.fatal = None
        self._closing = False
        self._ever_connected = False
        self._last_failure = None
        self._lock = threading.Lock()
        self._pending = []        # (mid, qos, envelope or None, new) stored, not yet committed
        self._broken = False
        self._stop_flush = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="rfhound-ops-flush", daemon=True)
        self._failed = threading.Event()
        self.client = make_client(config, self.client_id)
        # Acknowledge only after the archive commit: a crash in between means the
        # broker re-delivers, never that a record is lost.
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._receipts_refused = False
        self._connected_at = 0.0
        self._receipts_this_link = 0
        self._quick_drops = 0

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            message = self._connect_refused(reason_code)
            if message:
                self.fatal = message
                self._failed.set()
            return
        if self.stats["connects"] and not flags.session_present:
            # Mosquitto 2.0 says nothing to the client whose session another
            # connection with the same id took; this is where it shows.
            log.error("broker %s kept no session for this centre's client id: a broker restart without "
                      "persistence, or another client used the id (keep %s secret); the records queued for "
                      "the centre are gone from the broker, the relays send them again for want of receipts",
                      self.config.url, self.archive.root / STATE_DIR / CLIENT_ID_FILE)
        self.stats["connects"] += 1
        self._connected_at = time.monotonic()
        self._receipts_this_link = 0
        self._ever_connected = True
        self._last_failure = None
        log.info("connected to %s (session present: %s)", self.config.url, flags.session_present)
        # Subscribe on every connection: a restarted broker without persistence has
        # forgotten the subscription.
        client.subscribe(topics.SUBSCRIPTION, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if any(rc.is_failure for rc in reason_codes):
            self.fatal = f"broker {self.config.url} refused the subscription to {topics.SUBSCRIPTION}: " \
                         f"{reason_codes[0]}; check the user's ACL"
            self._failed.set()
            return
        log.info("subscribed to %s", topics.SUBSCRIPTION)
        self.subscribed.set()

    def _on_connect_fail(self, client, userdata):
        text = self._connect_failed()
        if text is not None:
            self.fatal = text
            self._failed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._early_disconnect(reason_code)
        if self._closing:
            pass
        elif self._receipts_this_link and time.monotonic() - self._connected_at < QUICK_DROP_S:
            self._quick_drops += 1
            if self._quick_drops >= QUICK_DROPS_MAX and not self._receipts_refused:
                # Without receipts the archive still fills; relays re-send with back-off.
                self._receipts_refused = True
                log.error("broker %s dropped the centre %d times in a row right after it sent receipts: "
                          "its ACL probably refuses them; no more receipts this run, so relays keep every "
                          "record and re-send it with back-off; grant the centre 'topic write %s/#' "
                          "(docs/ops.md) and restart it", self.config.url, self._quick_drops,
                          topics.RECEIPT_ROOT)
        else:
            self._quick_drops = 0

        if self.subscribed.is_set() and not self._closing:
            log.warning("link to %s lost (%s); reconnecting", self.config.url, reason_code)
        self.subscribed.clear()

    def _on_message(self, client, userdata, message):
        topic = _topic(message)
        with self._lock:
            self.stats["received"] += 1
            if self._broken:
                return
            try:
                if topic is None:
                    raise envelope.MalformedPayload("topic is not UTF-8")
                env = envelope.decode(topic, message.payload)
                new = self.archive.store(env)
            except envelope.MalformedPayload as exc:
                self.stats["malformed"] += 1
                log.warning("skipped malformed message on %r: %s; kept in %s", topic, exc,
                            self.dead_letters.path)
                try:
                    self.dead_letters.add(topic if topic is not None else message._topic,
                                          message.payload, str(exc), time.time())
                except Exception as dead_exc:
                    self._archive_failed(dead_exc)
                    return
                env, new = None, False
            except Exception as exc:
                self._archive_failed(exc)
                return
            self._pending.append((message.mid, message.qos, env, new))
            if len(self._pending) >= BATCH_MAX:
                self._flush_locked()

    def _flush_loop(self):
        while not self._stop_flush.wait(FLUSH_S):
            with self._lock:
                self._flush_locked()

    def _flush_locked(self):
        """Commit the archive, then acknowledge and show what it now holds."""
        if not self._pending or self._broken:
            return
        try:
            self.archive.commit()
            self.dead_letters.flush()
        except Exception as exc:
            self._archive_failed(exc)
            return
        now_s = time.time()
        receipts = collections.defaultdict(lambda: [[], None])   # (team, sid) -> [ids, meta sent_s]
        for mid, qos, env, new in self._pending:
            self.client.ack(mid, qos)
            if env is None:
                continue
            receipt = receipts[env.team, env.session_id]
            if env.kind == topics.META_KIND:
                self.stats["meta"] += 1
                receipt[1] = max(receipt[1] or env.sent_s, env.sent_s)
            else:
                self.stats["stored" if new else "duplicates"] += 1
                receipt[0].append(env.record_id)
            self.board.update(env, now_s, new=new,
                              missing=self.archive.missing(env.team, env.session_id))
            if self.on_record is not None:
                self.on_record(env, new)
        self._pending.clear()
        # Duplicates are confirmed too: a relay re-sends exactly the records whose
        # receipt it never saw.
        send = self.receipts and not self._receipts_refused
        for (team, session_id), (ids, meta_sent_s) in (receipts.items() if send else ()):
            # QoS 0: a lost receipt costs one re-send, which is receipted again, while a
            # QoS 1 one would queue at the broker for relays that finished long ago.
            self.client.publish(topics.receipt_topic(team, session_id),
                                envelope.encode_receipt(session_id, ids, meta_sent_s, now_s), qos=0)
            self.stats["receipts"] += 1
            self._receipts_this_link += 1

    def _archive_failed(self, exc):
        # Not the senders' fault (disk full, archive file damaged): nothing more is
        # acknowledged, so the broker keeps every unarchived record for this client id.
        log.error("archive %s: write failed", self.archive.root, exc_info=exc)
        self.archive.rollback()
        self._pending.clear()
        self._broken = True
        self.fatal = (f"archive {self.archive.root}: cannot write ({exc}); the broker keeps the "
                      "unarchived records for this client id: fix the archive and start rfhound ops again")
        self._failed.set()
        self.client.disconnect()

    def start(self, timeout_s=None):
        """Start the network thread; with `timeout_s`, wait until subscribed.

        Raises `UserError` when the broker refuses the login or the subscription.
        """
        self._flusher.start()
        self.client.loop_start()
        if timeout_s is not None:
            deadline = time.monotonic() + timeout_s
            while not self.subscribed.wait(0.05):
                if self.fatal or time.monotonic() > deadline:
                    self.stop()
                    last = f" (last attempt: {self._last_failure})" if self._last_failure else ""
                    raise UserError(self.fatal or f"broker {self.config.url} not reachable within "
                                    f"{timeout_s:g} s{last}; check --broker, that the broker runs "
                                    "and whether it wants mqtt:// or mqtts://")
        return self

    def wait_failed(self, timeout_s):
        """Block up to `timeout_s`; True if the broker refused us (see `fatal`)."""
        return self._failed.wait(timeout_s)

    def stop(self):
        """Commit and acknowledge what was received, disconnect, close the archive."""
        self._closing = True
        self._stop_flush.set()
        if self._flusher.is_alive():
            self._flusher.join()
        with self._lock:
            self._flush_locked()
        self.client.disconnect()
        self.client.loop_stop()
        with self._lock:
            # Messages that arrived during the disconnect: archived now, acknowledged
            # never, so the broker delivers them again and they are dropped as duplicates.
            self._flush_locked()
            self.archive.close()
            self.dead_letters.close()


def _topic(message):
    try:
        return message.topic
    except UnicodeDecodeError:
        return None
