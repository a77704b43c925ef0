"""Field relay: publish a session file's records to the operations centre as they are written.

Each record goes to ``rfhound/v1/<team>/<session_id>/<kind>`` with QoS 1 from a client
with a persistent MQTT session. A broker's PUBACK only says the broker has it; a
broker killed before it saved its queue, or a session taken over, loses it all the
same. So a record is marked sent in the session file's outbox only when the
operations centre's own receipt names it (``rfhound/receipts/v1/<team>/<session_id>``,
published after the centre committed it to its archive). A record without a
receipt is published again after `RECEIPT_TIMEOUT_S`, then after twice that and so
on up to `RECEIPT_TIMEOUT_MAX_S`; the next relay run re-sends every unmarked record.
The centre de-duplicates by ``(session_id, record_id)`` and confirms duplicates too.
"""

import heapq
import logging
import queue
import threading
import time

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from host.errors import UserError
from host.ops import envelope, schema, topics
from host.ops.broker import SESSION_EXPIRY_S, FailureNotes, make_client
from host.ops.outbox import META_RECORD_ID, AckWriter, Outbox

log = logging.getLogger("rfhound.ops.relay")

# Records published and not yet confirmed by the centre: bounds memory and the
# broker's queue while the centre is away (the rest wait in the session file).
WINDOW = 2000
META_POLL_S = 1.0
FINISH_GRACE_S = 2.0
RECEIPT_TIMEOUT_S = 10.0
RECEIPT_TIMEOUT_MAX_S = 300.0
# How long ``--once`` waits for the centre's receipts once everything is published.
RECEIPT_WAIT_S = 30.0
# PUBACK reason code of a publication the broker's ACL forbids (MQTT 5.0, 3.4.2.1):
# a configuration mistake, not a gap, so the relay stops and says so.
NOT_AUTHORIZED = 135
# A broker may also drop the connection right after a publication it refuses
# (Mosquitto 2.0 sends the refused PUBACK, then closes). With more publications
# pipelined behind the refused one, the broker closes with unread data, the
# kernel answers with a reset and the client never reads that PUBACK. So on each
# connection the relay publishes one message and waits for its PUBACK before
# pipelining, and gives up after this many connections in a row that closed
# within REFUSED_DROP_S of connecting, with a publication out and no PUBACK.
REFUSED_DROPS = 3
REFUSED_DROP_S = 2.0


class Relay(FailureNotes):
    """Publish one session file to a broker; forget a record only on the centre's receipt.

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
    receipt_timeout_s : float
        Re-send a record whose receipt has not come after this long (doubling
        per attempt up to `RECEIPT_TIMEOUT_MAX_S`).
    receipt_wait_s : float
        With ``once``: how long to wait for outstanding receipts after the last
        record is acknowledged by the broker.
    confirm_on_puback : bool
        The behaviour before receipts: the broker's PUBACK marks a record sent.
        For ``bench/ops_throughput.py``'s comparison only; a PUBACK does not
        survive a broker killed before it saved its queue.
    """

    _log = log

    def __init__(self, session_path, config, team, *, poll_s=0.05, receipt_timeout_s=RECEIPT_TIMEOUT_S,
                 receipt_wait_s=RECEIPT_WAIT_S, confirm_on_puback=False):
        self.team = topics.check_team(team)
        self.config = config
        self.outbox = Outbox(session_path)
        self.marks = None
        self.session_id = self.outbox.session_id
        self.poll_s = poll_s
        self.receipt_timeout_s = receipt_timeout_s
        self.receipt_wait_s = receipt_wait_s
        self.confirm_on_puback = confirm_on_puback
        self.receipt_topic = topics.receipt_topic(self.team, self.session_id)
        self.stats = {"published": 0, "acked": 0, "refused": 0, "receipted": 0, "resent": 0,
                      "unsendable": 0, "bad_receipts": 0, "connects": 0}
        self.connected = threading.Event()
        self._acks = queue.SimpleQueue()      # (mid, reason code) from paho's network thread
        self._receipts = queue.SimpleQueue()  # receipt payloads from paho's network thread
        self._inflight = {}                   # mid -> record id, until the PUBACK; main thread only
        self._awaiting = {}                   # record id -> [record, due (monotonic), attempts]
        self._due = []                        # heap of (due, record id); stale entries skipped
        self._unsendable = set()
        self._last_meta = None
        self._meta_pending = None             # [first sent_s of this snapshot, due, attempts]
        self._fatal = None
        self._receipts_refused = None         # (monotonic time, one-line reason)
        self._closing = False
        self._ever_connected = False
        self._last_failure = None
        # Set by the network thread: this connection has had a successful PUBACK,
        # so the broker accepts what this relay publishes and records may be pipelined.
        self._link_ok = False
        self._connected_at = None
        self._silent_drops = 0                # connections in a row closed soon, no PUBACK
        self.client = make_client(config, f"rfhound-relay-{self.team}-{self.session_id}")
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

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
        self._link_ok = False
        self._connected_at = time.monotonic()
        self._last_failure = None
        # On every connection: a broker restarted without persistence forgot it.
        client.subscribe(self.receipt_topic, qos=1)
        self.connected.set()
        log.info("connected to %s as team %s (session %s)", self.config.url, self.team, self.session_id)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if any(rc.is_failure for rc in reason_codes):
            # Raised by run() once the first PUBACKs are in: a user publishing for
            # the wrong team hears about that, the more likely mistake, first.
            text = (f"broker {self.config.url} does not let user {self.config.username!r} read the "
                    f"centre's receipts on {self.receipt_topic} ({reason_codes[0]}); without them no "
                    "record is ever confirmed: grant 'pattern read rfhound/receipts/v1/%u/#' (docs/ops.md)")
            self._receipts_refused = (time.monotonic(), text)

    def _on_message(self, client, userdata, message):
        if message.topic == self.receipt_topic:
            self._receipts.put(bytes(message.payload))

    def _on_connect_fail(self, client, userdata):
        text = self._connect_failed()
        if text is not None:
            self._fatal = text

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._early_disconnect(reason_code)
        if self.connected.is_set() and not self._closing and not self._link_ok \
                and time.monotonic() - self._connected_at < REFUSED_DROP_S:
            self._silent_drops += 1
        self._link_ok = False  # what is published until the next PUBACK goes one at a time
        if self.connected.is_set() and not self._closing:
            log.warning("link to %s lost (%s); records stay in the outbox until the centre confirms them",
                        self.config.url, reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        if not reason_code.is_failure:
            self._link_ok = True
            self._silent_drops = 0
        self._acks.put((mid, reason_code))

    def _may_publish(self):
        """Whether a new publication may go out now (see REFUSED_DROPS): pipelining only on a
        connection the broker has acknowledged a publication on, else one at a time."""
        return self._link_ok or not self._inflight

    def _check_refused_drops(self):
        if self._silent_drops >= REFUSED_DROPS and self._inflight:
            raise UserError(
                f"broker {self.config.url} closed the connection {self._silent_drops} times right after "
                f"user {self.config.username!r} published for team {self.team!r}, without acknowledging "
                "it: its ACL most likely forbids the topic (or the message is over its size limit); "
                "use the team name the broker's ACL gives this user (often the user name itself)")

    def _publish(self, record_id, kind, body, retain=False, payload=None):
        sent_s = time.time()
        if payload is None:
            payload = envelope.encode(self.team, self.session_id, record_id, kind, body, sent_s)
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
        return sent_s

    def _timeout_s(self, attempts):
        return min(self.receipt_timeout_s * 2 ** attempts, RECEIPT_TIMEOUT_MAX_S)

    def _send_record(self, rec, attempts=0):
        rid = rec["id"]
        payload = envelope.encode(self.team, self.session_id, rid, rec["kind"], rec, time.time())
        try:
            # The centre's own checks: a record it would refuse is never confirmed,
            # so it is reported here once instead of re-sent for ever.
            schema.check_shape(payload)
            schema.check_record(rec, rec["kind"], rid)
        except schema.SchemaError as exc:
            self._unsendable.add(rid)
            self.stats["unsendable"] += 1
            log.error("record %d of session %s cannot be sent (%s); it stays in the session file only",
                      rid, self.session_id, exc)
            return
        self._publish(rid, rec["kind"], rec, payload=payload)
        due = time.monotonic() + self._timeout_s(attempts)
        self._awaiting[rid] = [rec, due, attempts]
        heapq.heappush(self._due, (due, rid))

    def _resend_due(self):
        """Publish again every record (and metadata) whose receipt is overdue; only while connected."""
        if not self.connected.is_set() or not self._link_ok:
            return
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            due, rid = heapq.heappop(self._due)
            entry = self._awaiting.get(rid)
            if entry is None or entry[1] != due:
                continue                     # confirmed meanwhile, or re-sent already
            self.stats["resent"] += 1
            self._send_record(entry[0], entry[2] + 1)
        if self._meta_pending is not None and self._meta_pending[1] <= now:
            self._meta_pending[2] += 1
            self._meta_pending[1] = now + self._timeout_s(self._meta_pending[2])
            self._publish_meta(self._last_meta)
            self.stats["resent"] += 1

    def _publish_meta(self, snapshot):
        meta, tasking = snapshot
        return self._publish(META_RECORD_ID, topics.META_KIND, {"meta": meta, "tasking": tasking}, retain=True)

    def _publish_meta_if_changed(self):
        # Metadata is not in the outbox: each run publishes it once at start and
        # again whenever it changes (tasking set, HELLO's calibration id), and
        # again while the centre has not confirmed the current snapshot.
        snapshot = self.outbox.meta_snapshot()
        if snapshot != self._last_meta:
            self._last_meta = snapshot
            sent_s = self._publish_meta(snapshot)
            self._meta_pending = [sent_s, time.monotonic() + self._timeout_s(0), 0]

    def _outstanding(self):
        return bool(self._awaiting) or self._meta_pending is not None

    def _finish(self):
        """Send changed metadata; give outstanding records a moment to be confirmed.

        Fewer unconfirmed records means fewer re-sends by the next relay; a record
        still unconfirmed after the grace period simply stays in the outbox.
        """
        self._publish_meta_if_changed()
        deadline = time.monotonic() + FINISH_GRACE_S
        while (self._inflight or self._outstanding()) and self.connected.is_set() \
                and time.monotonic() < deadline:
            time.sleep(0.02)
            self._drain_acks()
            self._drain_receipts()

    def _drain_acks(self):
        confirmed = []
        while True:
            try:
                mid, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            record_id = self._inflight.pop(mid, None)
            if record_id is None:
                continue
            if reason.is_failure:
                # The record stays unconfirmed, is re-sent after its timeout and, if
                # this relay stops, offered again by the next run.
                self.stats["refused"] += 1
                log.error("broker refused record %d of session %s: %s", record_id,
                          self.session_id, reason)
                if reason.value == NOT_AUTHORIZED:
                    self._fatal = (
                        f"broker {self.config.url} does not let user {self.config.username!r} publish "
                        f"for team {self.team!r} ({reason}); use the team name the broker's ACL "
                        "gives this user (often the user name itself)")
            else:
                self.stats["acked"] += 1
                if self.confirm_on_puback:
                    if record_id == META_RECORD_ID:
                        self._meta_pending = None
                    elif self._awaiting.pop(record_id, None) is not None:
                        confirmed.append(record_id)
        if confirmed:
            self.marks.put(confirmed)
            self.stats["receipted"] += len(confirmed)

    def _drain_receipts(self):
        confirmed = []
        while True:
            try:
                payload = self._receipts.get_nowait()
            except queue.Empty:
                break
            try:
                receipt = envelope.decode_receipt(payload, self.session_id)
            except envelope.MalformedPayload as exc:
                self.stats["bad_receipts"] += 1
                log.warning("ignored a receipt on %s: %s", self.receipt_topic, exc)
                continue
            span = sum(hi - lo + 1 for lo, hi in receipt.ranges)
            if span <= len(self._awaiting):
                candidates = (rid for lo, hi in receipt.ranges for rid in range(lo, hi + 1))
            else:
                candidates = [rid for rid in self._awaiting if rid in receipt]
            for rid in candidates:
                # Only records this run sent are marked: a receipt cannot mark
                # a record that was never published.
                if self._awaiting.pop(rid, None) is not None:
                    confirmed.append(rid)
            if receipt.meta_sent_s is not None and self._meta_pending is not None \
                    and receipt.meta_sent_s >= self._meta_pending[0]:
                self._meta_pending = None
        self.marks.put(confirmed)
        self.stats["receipted"] += len(confirmed)

    def run(self, stop=None, once=False):
        """Publish until `stop` is set (or, with `once`, until every record is confirmed).

        Returns the stats dict. A broker that refuses the login raises `UserError`;
        a broker that is unreachable is retried for ever (records wait in the outbox).
        With `once`, it stops after `receipt_wait_s` connected without progress;
        records the centre has not confirmed stay in the outbox, with a warning.
        """
        stop = stop or threading.Event()
        self.marks = AckWriter(self.outbox.path)
        self.client.loop_start()
        try:
            after_id = 0
            meta_due = 0.0
            idle_since = None
            last_progress = None
            while not stop.is_set():
                if self._fatal:
                    raise UserError(self._fatal)
                self._check_refused_drops()
                if self._receipts_refused and (not self._inflight
                                               or time.monotonic() - self._receipts_refused[0] > 2.0):
                    raise UserError(self._receipts_refused[1])
                self._drain_acks()
                self._drain_receipts()
                if self._fatal:
                    raise UserError(self._fatal)
                now = time.monotonic()
                if now >= meta_due and self._may_publish():
                    meta_due = now + META_POLL_S
                    self._publish_meta_if_changed()
                self._resend_due()
                room = WINDOW - len(self._awaiting)
                if not self._link_ok:
                    room = min(room, 1 if self._may_publish() else 0)
                records = self.outbox.unsent(after_id, room) if room > 0 else []
                for rec in records:
                    self._send_record(rec)
                if records:
                    after_id = records[-1]["id"]
                    continue
                if once:
                    # (a publication still without its PUBACK may be what holds the
                    # next records back, see _may_publish)
                    if not self._outstanding() and not self._inflight:
                        break
                    # Give up waiting only after receipt_wait_s connected without any
                    # progress (a new receipt or a new record published); a broker
                    # that cannot be reached is waited for, as ever.
                    progress = (self.stats["receipted"], after_id)
                    if progress != last_progress or not self.connected.is_set():
                        last_progress, idle_since = progress, None
                    idle_since = idle_since or now
                    if now - idle_since > self.receipt_wait_s:
                        log.warning("%d records (and %s) not yet confirmed by the operations centre after "
                                    "%g s; they (and any not yet published) stay in the outbox and the next "
                                    "relay run sends them again (is the centre running, may user %r read %s, and "
                                    "may the centre write receipts?)", len(self._awaiting),
                                    "the metadata" if self._meta_pending else "no metadata", self.receipt_wait_s,
                                    self.config.username, self.receipt_topic)
                        break
                stop.wait(self.poll_s)
            self._finish()
        finally:
            self._drain_acks()
            self._drain_receipts()
            self._closing = True
            self.client.disconnect()
            self.client.loop_stop()
            self.marks.close()
            self.stats["records"], self.stats["sent"] = self.outbox.counts()
            self.stats["unconfirmed"] = len(self._awaiting)
            self.outbox.close()
        return dict(self.stats)


class BackgroundRelay:
    """A `Relay` on its own thread, for a program that records and relays at once (the console).

    ``BackgroundRelay(path, config, team).start()`` after the session file exists;
    ``stop()`` when the hunt ends. ``error`` holds the one-line reason if the relay
    gave up (refused login, forbidden topic), else None.
    """

    def __init__(self, session_path, config, team, **relay_kw):
        self.relay = Relay(session_path, config, team, **relay_kw)
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
