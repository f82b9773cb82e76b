"""A local Twilio-compatible sandbox: the REST subset CollectFlow uses, signed callbacks, faults.

Dev and tests point the real `twilio` SDK at it (``COLLECTFLOW_TWILIO_BASE_URL``); people read
what would have been sent at ``GET /sandbox/outbox``.
"""

from sandbox.app import create_sandbox_app
from sandbox.config import FaultConfig, SandboxConfig, config_from_settings
from sandbox.server import run_sandbox

__all__ = [
    "FaultConfig",
    "SandboxConfig",
    "config_from_settings",
    "create_sandbox_app",
    "run_sandbox",
]
