"""The operations-centre subscriber: every team's feed into the archive and the hunt board.

It subscribes to ``rfhound/v1/+/+/+`` with QoS 1 on a persistent MQTT session, so
records published while it is away are queued for it by the broker. A message is
acknowledged (PUBACK) only after it is committed to the archive, and shown on the
board only then; a malformed one is logged, counted, acknowledged and skipped.
"""

import logging
import threading
import time

from host.errors import UserError
from host.ops import envelope, topics
from host.ops.archive import Archive
from host.ops.broker import FailureNotes, make_client
from host.ops.hunts import HuntBoard

log = logging.getLogger("rfhound.ops.centre")

# Stored messages are committed and acknowledged together, every FLUSH_S or every
# BATCH_MAX messages: one SQLite commit per message would cap the centre near
# 4000 records/s on a laptop.
FLUSH_S = 0.02
BATCH_MAX = 500


class OpsCentre(FailureNotes):
    """Subscribe to all teams, archive every session, keep the live-hunt board.

    Parameters
    ----------
    config : host.ops.options.BrokerConfig
    archive_dir : path-like
    client_id : str
        Fixed MQTT client id: the broker keeps this centre's queue under it.
    on_record : callable, optional
        ``on_record(envelope, new)`` after each archived message (paho's thread).
    """

    _log = log

    def __init__(self, config, archive_dir, *, client_id="rfhound-ops", on_record=None):
        self.config = config
        self.archive = Archive(archive_dir)
        self.board = HuntBoard()
        self.on_record = on_record
        # stored / duplicates count session records; meta counts metadata messages.
        self.stats = {"received": 0, "stored": 0, "duplicates": 0, "meta": 0, "malformed": 0,
                      "connects": 0}
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
        self.client = make_client(config, client_id)
        # Acknowledge only after the archive commit: a crash in between means the
        # broker re-delivers, never that a record is lost.
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            message = self._connect_refused(reason_code)
            if message:
                self.fatal = message
                self._failed.set()
            return
        self.stats["connects"] += 1
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
                log.warning("skipped malformed message on %r: %s", topic, exc)
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
        except Exception as exc:
            self._archive_failed(exc)
            return
        now_s = time.time()
        for mid, qos, env, new in self._pending:
            self.client.ack(mid, qos)
            if env is None:
                continue
            if env.kind == topics.META_KIND:
                self.stats["meta"] += 1
            else:
                self.stats["stored" if new else "duplicates"] += 1
            self.board.update(env, now_s, new=new)
            if self.on_record is not None:
                self.on_record(env, new)
        self._pending.clear()

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


def _topic(message):
    try:
        return message.topic
    except UnicodeDecodeError:
        return None
