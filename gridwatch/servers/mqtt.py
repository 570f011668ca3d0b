"""An MQTT broker on 127.0.0.1, anonymous, under ``<data_dir>/mqtt``: Mosquitto when installed,
else the pure-Python ``amqtt`` broker (a GridWatch dependency) run as a child process.

Mosquitto keeps retained messages and persistent sessions in ``store/`` across restarts; amqtt keeps
them in memory only. Both speak MQTT 3.1.1, which paho-mqtt 2.x clients use by default.
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Literal

from gridwatch.servers.ports import LOOPBACK
from gridwatch.servers.process import ChildServer, LaunchSpec, ServerError
from gridwatch.servers.users import hand_over, running_as_root, service_user

log = logging.getLogger(__name__)

Broker = Literal["auto", "mosquitto", "amqtt"]

MOSQUITTO_CONF = """# written by GridWatch at each start
listener {port} {host}
allow_anonymous true
persistence true
persistence_location {store}/
autosave_interval 60
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
log_timestamp_format %Y-%m-%dT%H:%M:%S
connection_messages true
"""

AMQTT_YAML = """# written by GridWatch at each start
listeners:
  default:
    type: tcp
    bind: {host}:{port}
plugins:
  amqtt.plugins.authentication.AnonymousAuthPlugin:
    allow_anonymous: true
"""

# MQTT 3.1.1 CONNECT with clean session, keep-alive 60 s, client id "gw-probe".
_CONNECT = bytes([0x10, 20, 0, 4, *b"MQTT", 4, 0x02, 0, 60, 0, 8, *b"gw-probe"])
_DISCONNECT = bytes([0xE0, 0])


def mqtt_handshake(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    """True when the broker at ``host:port`` accepts an anonymous MQTT connection (CONNACK code 0)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_CONNECT)
            reply = sock.recv(4)
            if reply[:2] == bytes([0x20, 0x02]) and len(reply) == 4 and reply[3] == 0:
                sock.sendall(_DISCONNECT)
                return True
    except OSError:
        return False
    return False


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


class MqttServer(ChildServer):
    """An anonymous MQTT broker on loopback; ``broker`` picks Mosquitto or amqtt (``auto``: Mosquitto if present)."""

    name = "mqtt"

    def __init__(self, data_dir: Path, port: int | None = None, broker: Broker = "auto") -> None:
        super().__init__(data_dir / "mqtt", port)
        self.requested_broker = broker
        self.broker: Literal["mosquitto", "amqtt"] = "amqtt"
        self.log_path = self.root / "broker.log"
        self._mosquitto: str | None = None
        self.system_user: str | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    def prepare(self) -> None:
        self._mosquitto = mosquitto_path() if self.requested_broker != "amqtt" else None
        if self.requested_broker == "mosquitto" and self._mosquitto is None:
            raise ServerError("mosquitto is not installed (apt-get install mosquitto)")
        self.broker = "mosquitto" if self._mosquitto else "amqtt"
        (self.root / "store").mkdir(exist_ok=True)
        if self.broker == "mosquitto" and running_as_root():
            # Started as its own user rather than dropping root itself: a credential change would
            # clear the parent-death signal that stops it if we die (see process.ChildProcess).
            self.system_user = service_user(("mosquitto",))
            hand_over(self.root, self.system_user)

    def configure(self) -> None:
        if self.broker == "mosquitto":
            text = MOSQUITTO_CONF.format(port=self.port, host=LOOPBACK, store=self.root / "store")
            (self.root / "mosquitto.conf").write_text(text)
        else:
            (self.root / "amqtt.yaml").write_text(AMQTT_YAML.format(port=self.port, host=LOOPBACK))

    def launch_spec(self) -> LaunchSpec:
        if self.broker == "mosquitto":
            assert self._mosquitto is not None
            argv = [self._mosquitto, "-c", str(self.root / "mosquitto.conf")]
            return LaunchSpec(name=f"{self.name} (mosquitto)", argv=argv, log_path=self.log_path, cwd=self.root,
                              user=self.system_user, stop_timeout=10.0)
        argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(self.root / "amqtt.yaml")]
        # amqtt shuts down on KeyboardInterrupt only, and then may wait on idle connections for
        # ever; it stores nothing, so a short grace period before the kill loses nothing.
        return LaunchSpec(name=f"{self.name} (amqtt)", argv=argv, log_path=self.log_path, cwd=self.root,
                          stop_signal=signal.SIGINT, stop_timeout=3.0)

    def is_ready(self) -> bool:
        return mqtt_handshake(self.port)
