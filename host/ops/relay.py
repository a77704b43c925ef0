"""Field relay: publish a session file's records to the operations centre as they are written.

Each record goes to ``rfhound/v1/<team>/<session_id>/<kind>`` with QoS 1 from a client
with a persistent MQTT session, and is marked sent in the session file's outbox only
when the broker's PUBACK arrives. Records not yet acknowledged when the link drops are
re-sent by paho on reconnection; those lost with a killed relay are re-sent by the next
relay from the outbox. The receiver de-duplicates by ``(session_id, record_id)``.
"""

import logging
import queue
import threading
import time

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from host.errors import UserError
from host.ops import envelope, topics
from host.ops.broker import SESSION_EXPIRY_S, FailureNotes, make_client
from host.ops.outbox import META_RECORD_ID, AckWriter, Outbox

log = logging.getLogger("rfhound.ops.relay")

# Outstanding (published, not yet acknowledged) records: bounds paho's in-memory
# queue during a long gap and keeps paho's 16-bit message ids unique.
WINDOW = 1000
META_POLL_S = 1.0
FINISH_GRACE_S = 2.0
# PUBACK reason code of a publication the broker's ACL forbids (MQTT 5.0, 3.4.2.1):
# a configuration mistake, not a gap, so the relay stops and says so.
NOT_AUTHORIZED = 135


class Relay(FailureNotes):
    """Publish one session file to a broker.

    Parameters
    ----------
    session_path : path-like
        The session file (may still be written by the recorder).
    config : host.ops.options.BrokerConfig
        Broker and login.
    team : str
        Team name: the topic segment and part of the MQTT client id.
    poll_s : float
        How often to look for new records when there are none.
    """

    _log = log

    def __init__(self, session_path, config, team, *, poll_s=0.05):
        self.team = topics.check_team(team)
        self.config = config
        self.outbox = Outbox(session_path)
        self.marks = None
        self.session_id = self.outbox.session_id
        self.poll_s = poll_s
        self.stats = {"published": 0, "acked": 0, "refused": 0, "connects": 0}
        self.connected = threading.Event()
        self._acks = queue.SimpleQueue()   # (mid, reason code) from paho's network thread
        self._inflight = {}                # mid -> record id; main thread only
        self._last_meta = None
        self._fatal = None
        self._closing = False
        self._ever_connected = False
        self._last_failure = None
        self.client = make_client(config, f"rfhound-relay-{self.team}-{self.session_id}")
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    # paho network-thread callbacks: they only set flags and queue, never touch
    # SQLite, and take no lock of ours (paho holds its own message lock here).
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            message = self._connect_refused(reason_code)
            if message:
                self._fatal = message
            return
        self.stats["connects"] += 1
        self._ever_connected = True
        self._last_failure = None
        self.connected.set()
        log.info("connected to %s as team %s (session %s)", self.config.url, self.team, self.session_id)

    def _on_connect_fail(self, client, userdata):
        text = self._connect_failed()
        if text is not None:
            self._fatal = text

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._early_disconnect(reason_code)
        if self.connected.is_set() and not self._closing:
            log.warning("link to %s lost (%s); records stay in the outbox until acknowledged",
                        self.config.url, reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self._acks.put((mid, reason_code))

    def _publish(self, record_id, kind, body, retain=False):
        payload = envelope.encode(self.team, self.session_id, record_id, kind, body, time.time())
        props = None
        if retain:
            # A retained message stays on the broker until it expires: one per
            # session would pile up for ever and reach every new subscriber.
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = SESSION_EXPIRY_S
        info = self.client.publish(topics.record_topic(self.team, self.session_id, kind), payload,
                                   qos=1, retain=retain, properties=props)
        self._inflight[info.mid] = record_id
        self.stats["published"] += 1

    def _publish_meta_if_changed(self):
        # Metadata is not in the outbox: each run publishes it once at start and
        # again whenever it changes (tasking set, HELLO's calibration id).
        snapshot = self.outbox.meta_snapshot()
        if snapshot != self._last_meta:
            self._last_meta = snapshot
            meta, tasking = snapshot
            self._publish(META_RECORD_ID, topics.META_KIND, {"meta": meta, "tasking": tasking},
                          retain=True)

    def _finish(self):
        """Send changed metadata; give in-flight records a moment to be acknowledged.

        Fewer unmarked records means fewer re-sends by the next relay; a record
        still unacknowledged after the grace period simply stays in the outbox.
        """
        self._publish_meta_if_changed()
        deadline = time.monotonic() + FINISH_GRACE_S
        while self._inflight and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
            self._drain_acks()

    def _drain_acks(self):
        sent = []
        while True:
            try:
                mid, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            record_id = self._inflight.pop(mid, None)
            if record_id is None:
                continue
            if reason.is_failure:
                # The record stays unsent in the outbox and is offered again by the
                # next relay run.
                self.stats["refused"] += 1
                log.error("broker refused record %d of session %s: %s", record_id,
                          self.session_id, reason)
                if reason.value == NOT_AUTHORIZED:
                    self._fatal = (
                        f"broker {self.config.url} does not let user {self.config.username!r} publish "
                        f"for team {self.team!r} ({reason}); use the team name the broker's ACL "
                        "gives this user (often the user name itself)")
            else:
                sent.append(record_id)
        self.marks.put(sent)
        self.stats["acked"] += len(sent)

    def run(self, stop=None, once=False):
        """Publish until `stop` is set (or, with `once`, until every record is sent).

        Returns the stats dict. A broker that refuses the login raises `UserError`;
        a broker that is unreachable is retried for ever (records wait in the outbox).
        """
        stop = stop or threading.Event()
        self.marks = AckWriter(self.outbox.path)
        self.client.loop_start()
        try:
            after_id = 0
            meta_due = 0.0
            while not stop.is_set():
                if self._fatal:
                    raise UserError(self._fatal)
                self._drain_acks()
                now = time.monotonic()
                if now >= meta_due:
                    meta_due = now + META_POLL_S
                    self._publish_meta_if_changed()
                records = self.outbox.unsent(after_id, WINDOW - len(self._inflight))
                for rec in records:
                    self._publish(rec["id"], rec["kind"], rec)
                if records:
                    after_id = records[-1]["id"]
                    continue
                if once and not self._inflight:
                    break
                stop.wait(self.poll_s)
            self._finish()
        finally:
            self._drain_acks()
            self._closing = True
            self.client.disconnect()
            self.client.loop_stop()
            self.marks.close()
            self.stats["records"], self.stats["sent"] = self.outbox.counts()
            self.outbox.close()
        return dict(self.stats)


class BackgroundRelay:
    """A `Relay` on its own thread, for a program that records and relays at once (the console).

    ``BackgroundRelay(path, config, team).start()`` after the session file exists;
    ``stop()`` when the hunt ends. ``error`` holds the one-line reason if the relay
    gave up (refused login, forbidden topic), else None.
    """

    def __init__(self, session_path, config, team):
        self.relay = Relay(session_path, config, team)
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rfhound-relay", daemon=True)

    def _run(self):
        try:
            self.relay.run(self._stop)
        except UserError as exc:
            self.error = str(exc)
            log.error("%s", exc)

    @property
    def stats(self):
        return dict(self.relay.stats)

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout_s=10.0):
        """Stop publishing; unacknowledged records stay in the outbox for the next relay."""
        self._stop.set()
        self._thread.join(timeout_s)
