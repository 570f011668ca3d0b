"""The MQTT client that listens to the site's buttons (paho-mqtt 2.x, callback API version 2).

paho's network thread does the reconnecting (``reconnect_delay_set``: 1 s doubling to 30 s),
including when the broker is down at start (``connect_async`` + ``loop_start``). Subscriptions
are made again in every ``on_connect`` so they survive a broker restart.

The session is persistent (MQTT 3.1.1 ``clean_session=False`` with a client id fixed per site):
QoS 1 presses published while the agent restarts are queued by the broker and delivered when it
comes back, instead of being lost. A message is acknowledged (``manual_ack``) only once its handler
has returned, that is once a press is in the spool: when the handler raises (the spool's disk full,
say) the message is tried again twice, then counted (``mqtt_messages_total{outcome="failed"}``),
logged and left unacknowledged, so the broker delivers it again on the next connection instead of
forgetting it. A handler that raises never kills the network thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.metrics import EdgeMetrics
from gridwatch.settings import MqttSettings

log = structlog.get_logger(__name__)

MessageHandler = Callable[[str, bytes], object]
SUBSCRIBE_QOS = 1
KEEPALIVE_S = 30
HANDLER_TRIES = 3
HANDLER_RETRY_S = 0.2


class ButtonSubscriber:
    """Subscribes to ``topics`` and hands every message's topic and payload to ``handler``."""

    def __init__(
        self, settings: MqttSettings, topics: Sequence[str], handler: MessageHandler, metrics: EdgeMetrics,
        client_id: str,
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._handler = handler
        self._metrics = metrics
        self._connected = threading.Event()
        self._client = self._make_client(client_id)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        self._client.connect_async(self._settings.host, self._settings.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        log.info("MQTT connecting", host=self._settings.host, port=self._settings.port, topics=len(self._topics))

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._set_connected(False)

    def _make_client(self, client_id: str) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, protocol=paho.MQTTv311,
            manual_ack=True,
        )
        if self._settings.username:
            client.username_pw_set(self._settings.username, self._settings.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: paho.Client, userdata: object, flags: paho.ConnectFlags,
                    reason: ReasonCode, properties: object) -> None:
        if reason.is_failure:
            log.warning("MQTT connection refused", reason=str(reason))
            return
        log.info("MQTT connected", session_present=flags.session_present)
        if self._topics:
            client.subscribe([(topic, SUBSCRIBE_QOS) for topic in self._topics])
        else:
            self._set_connected(True)

    def _on_subscribe(self, client: paho.Client, userdata: object, mid: int,
                      reasons: list[ReasonCode], properties: object) -> None:
        # "Connected" means subscribed: a message published after this point reaches the handler.
        refused = [topic for topic, reason in zip(self._topics, reasons) if reason.is_failure]
        if refused:
            log.error("MQTT broker refused subscriptions (check its ACL)", topics=refused)
        self._set_connected(True)

    def _on_disconnect(self, client: paho.Client, userdata: object, flags: paho.DisconnectFlags,
                       reason: ReasonCode, properties: object) -> None:
        self._set_connected(False)
        if reason.is_failure:
            log.warning("MQTT connection lost; reconnecting", reason=str(reason))

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if self._handled(message):
            client.ack(message.mid, message.qos)
            return
        self._metrics.mqtt_messages.labels("failed").inc()
        log.error("MQTT message not handled; left unacknowledged for the broker to deliver again on reconnect",
                  topic=message.topic, mid=message.mid)

    def _handled(self, message: paho.MQTTMessage) -> bool:
        """Run the handler, trying again briefly; False when it kept raising."""
        for attempt in range(1, HANDLER_TRIES + 1):
            try:
                self._handler(message.topic, message.payload)
                return True
            except Exception:  # noqa: BLE001 - one bad message must not stop the listener
                log.exception("failed to handle an MQTT message", topic=message.topic, attempt=attempt)
                if attempt < HANDLER_TRIES:
                    time.sleep(HANDLER_RETRY_S)
        return False

    def _set_connected(self, connected: bool) -> None:
        if connected:
            self._connected.set()
        else:
            self._connected.clear()
        self._metrics.mqtt_connected.set(1 if connected else 0)
