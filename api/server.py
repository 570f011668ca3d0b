"""``gridwatch api``: serve ``create_app(settings)`` with uvicorn."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from gridwatch.settings import Settings

# Open /v1/feed streams never end by themselves; past this, shutdown cuts them (clients reconnect).
GRACEFUL_SHUTDOWN_S = 5


def run_api(settings: Settings) -> int:
    """Run until interrupted; return the process exit code."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,  # keep the structlog setup from the CLI
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
