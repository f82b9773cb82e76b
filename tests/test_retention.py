"""History retention is applied to the namespace from settings."""

from __future__ import annotations

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from cli.run_cmds import apply_history_retention
from models.settings import Settings


async def test_retention_setting_reaches_the_namespace(dev_env: WorkflowEnvironment) -> None:
    """`setup-temporal` sets the namespace's closed-history retention to the setting."""
    target = dev_env.client.service_client.config.target_host
    settings = Settings(env="development", temporal_address=target, history_retention_days=1830)
    assert await apply_history_retention(settings) == 1830
    described = await dev_env.client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    assert described.config.workflow_execution_retention_ttl.seconds == 1830 * 86_400
