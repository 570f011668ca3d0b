"""Real single-node servers (Kafka, PostgreSQL, MQTT) run as child processes under one data folder.

``gridwatch up`` and the integration-test fixtures start them with the same code::

    with KafkaServer(data_dir) as kafka, PostgresServer(data_dir) as pg, MqttServer(data_dir) as mqtt:
        ...  # kafka.bootstrap, pg.url, mqtt.port

Each server is started by ``start()`` (returns once it answers; raises ``ServerError`` with the end
of its log otherwise) and stopped by ``stop()`` (its own graceful shutdown, then SIGKILL).
"""

from gridwatch.servers.kafka import KafkaServer
from gridwatch.servers.mqtt import MqttServer
from gridwatch.servers.postgres import PostgresServer
from gridwatch.servers.process import ChildProcess, ChildServer, LaunchSpec, ServerError

__all__ = ["ChildProcess", "ChildServer", "KafkaServer", "LaunchSpec", "MqttServer", "PostgresServer", "ServerError"]
