"""Shared by every test. Unit tests live in tests/unit (no network); tests in tests/integration run
against real Kafka, PostgreSQL and MQTT started once per session (tests/integration/conftest.py) and
are marked ``integration``, so ``pytest -m "not integration"`` stays fast."""
