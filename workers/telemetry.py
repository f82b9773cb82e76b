"""Temporal SDK runtime telemetry: worker and client metrics in Prometheus format.

The SDK's Rust core serves its own Prometheus endpoint; CollectFlow's workflow counters
(contacts by channel and outcome, stage transitions, payments, cases started) are emitted
through ``workflow.metric_meter()`` and appear there beside the SDK's task and poll metrics.
"""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig


def prometheus_runtime(bind_address: str) -> Runtime:
    """A runtime whose metrics are scraped at ``http://{bind_address}/metrics``."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))
