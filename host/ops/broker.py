"""The paho client both the field relay and the operations centre use.

Both speak to the broker the same way: MQTT 5, a fixed client id,
``clean_start=False`` with a session expiry of a week, so the broker keeps a
client's session (its subscriptions and the QoS 1 messages queued for it) across
coverage gaps and restarts.
"""

import logging
import ssl
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from host.ops.options import PASSWORD_ENV

SESSION_EXPIRY_S = 7 * 24 * 3600
KEEPALIVE_S = 15
MAX_INFLIGHT = 100

# CONNACK reason codes that no retry can fix (MQTT 5.0 section 3.2.2.2).
FATAL_CONNACK = {133, 134, 135, 138, 140}


def make_client(config, client_id):
    """Return a paho client that will connect asynchronously to the broker of `config`.

    `config` is a `host.ops.options.BrokerConfig`. The caller sets its callbacks, then calls ``client.loop_start()``; paho's
    network thread connects, and reconnects after every drop (1-8 s back-off).
    A plain-TCP or anonymous configuration raises `UserError` unless it says
    ``allow_insecure``.
    """
    config.check_secure()
    if config.allow_insecure and (not config.tls or config.anonymous):
        logging.getLogger("rfhound.ops").warning(
            "broker %s: %s allowed by --allow-insecure (test brokers only)", config.url,
            "plain TCP" if not config.tls else "anonymous login")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        client.tls_set(ca_certs=config.cafile, certfile=config.certfile, keyfile=config.keyfile,
                       cert_reqs=ssl.CERT_REQUIRED)
        client.tls_insecure_set(config.insecure)
    client.reconnect_delay_set(1, 8)
    # paho's default of 20 unacknowledged QoS 1 messages caps throughput at 20 per
    # round trip; 100 matches the broker configuration in docs/ops.md.
    client.max_inflight_messages_set(MAX_INFLIGHT)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    client.connect_async(config.host, config.port, keepalive=KEEPALIVE_S, clean_start=False,
                         properties=props)
    return client


def refusal_message(config, reason_code):
    """One line explaining a refused connection, or None if a retry may succeed."""
    if reason_code.value not in FATAL_CONNACK:
        return None
    who = f"user {config.username!r}" if config.username else "an anonymous client"
    return (f"broker {config.url} refused {who}: {reason_code}; "
            "check --username and the password (--password-file or "
            f"${PASSWORD_ENV}) or the client certificate")


def connect_failure(config, exc):
    """Classify a failed connection attempt: ``(fatal, one-line text)``.

    TLS trust and handshake failures are fatal (no retry fixes a wrong CA or a
    plain-TCP port); a refused, reset or timed-out TCP connection is not.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True, (f"broker {config.url}: its TLS certificate is not trusted ({exc.verify_message}); "
                      "give the CA that signed it with --cafile")
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return True, (f"broker {config.url}: TLS handshake failed ({exc.reason or exc}); check that the "
                      "port is a TLS listener and the --certfile/--keyfile pair")
    return False, f"broker {config.url} not reachable: {exc or type(exc).__name__}"


class FailureNotes:
    """Connection-failure bookkeeping shared by the relay and the ops centre.

    The class using it sets ``config``, ``_log``, ``_ever_connected``, ``_closing`` and
    ``_last_failure``. A fatal failure before the first connection is returned for the
    caller to stop on; any other is logged once per distinct text while paho retries.
    """

    def _warn_once(self, text):
        if text != self._last_failure:
            self._log.warning("%s; retrying", text)
        self._last_failure = text

    def _connect_failed(self):
        # paho calls on_connect_fail inside its ``except OSError`` around the connection
        # attempt, so the exception is still the one being handled.
        fatal, text = connect_failure(self.config, sys.exc_info()[1])
        if fatal and not self._ever_connected:
            self._last_failure = text
            return text
        self._warn_once(text)
        return None

    def _connect_refused(self, reason_code):
        """A CONNACK refusal: its text if no retry can help (credentials, ACL), else None."""
        message = refusal_message(self.config, reason_code)
        if not message:
            self._log.warning("broker %s refused connection: %s; retrying", self.config.url,
                              reason_code)
        return message

    def _early_disconnect(self, reason_code):
        if not self._ever_connected and not self._closing:
            # E.g. a TLS 1.3 broker that wants a client certificate says so only
            # after the handshake, as a dropped connection.
            self._warn_once(f"broker {self.config.url} closed the connection before accepting "
                            f"it ({reason_code}); check the credentials or client certificate")
