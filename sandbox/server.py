"""Serving the sandbox with uvicorn."""

from __future__ import annotations

import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig


def run_sandbox(host: str, port: int, config: SandboxConfig, log_level: str = "info") -> None:
    """Serve the sandbox until interrupted (blocks; uvicorn handles SIGINT/SIGTERM)."""
    uvicorn.run(create_sandbox_app(config), host=host, port=port, log_level=log_level.lower())
