"""The rest of a history a reader reports: activities that failed for good, failed workflow
tasks, each run's start and end, and timers."""

from __future__ import annotations

from temporalio.api.enums.v1 import RetryState, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent

from audit.timeline.entry import event_time
from audit.timeline.reader import Reader
from models import case as c
from models.common import Stage


class LifecycleReader(Reader):
    """A :class:`Reader` that also reports the workflow's own life: runs, failures, timers."""

    def activity_failed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """An activity that failed for good (retries exhausted or non-retryable) or timed out."""
        if event.HasField("activity_task_failed_event_attributes"):
            failed = event.activity_task_failed_event_attributes
            scheduled, failure, kind = failed.scheduled_event_id, failed.failure, "failed"
            retry_state = failed.retry_state
        else:
            timed_out = event.activity_task_timed_out_event_attributes
            scheduled, failure, kind = timed_out.scheduled_event_id, timed_out.failure, "timed_out"
            retry_state = timed_out.retry_state
        name = self.activities.get((run, scheduled), "activity")
        details = {
            "activity": name,
            "scheduled_event_id": str(scheduled),
            "failure": failure.message,
            "retry_state": RetryState.Name(retry_state).removeprefix("RETRY_STATE_").lower(),
        }
        if failure.HasField("application_failure_info") and failure.application_failure_info.type:
            details["failure_type"] = failure.application_failure_info.type
        summary = f"activity {name} {kind.replace('_', ' ')}: {failure.message}"
        self.emit(run, run_id, event, "activity", f"activity_{kind}", summary, details)

    def workflow_task_failed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        """A failed workflow task: a fault or non-determinism in the workflow code, or a reset.

        ``UNHANDLED_COMMAND`` (new input arrived while the task completed; the server simply
        runs another task) is routine and left out.
        """
        attrs = event.workflow_task_failed_event_attributes
        if attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND:
            return
        cause = (
            WorkflowTaskFailedCause.Name(attrs.cause)
            .removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
            .lower()
        )
        details = {"cause": cause, "failure": attrs.failure.message}
        if attrs.base_run_id:
            details["base_run_id"] = attrs.base_run_id
        if attrs.new_run_id:
            details["new_run_id"] = attrs.new_run_id
        if attrs.identity:
            details["identity"] = attrs.identity
        summary = f"workflow task failed ({cause.replace('_', ' ')})"
        if attrs.failure.message:
            summary += f": {attrs.failure.message}"
        self.emit(run, run_id, event, "workflow", "workflow_task_failed", summary, details)

    def started(self, run: int, run_id: str, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_started_event_attributes
        value, problem = self.decode(attrs.input, c.CaseInput)
        details = {"workflow_type": attrs.workflow_type.name, "task_queue": attrs.task_queue.name}
        if attrs.continued_execution_run_id:
            details["continued_from"] = attrs.continued_execution_run_id
        if attrs.identity:
            details["identity"] = attrs.identity
        if isinstance(value, c.CaseInput):
            carried = value.carried_state
            self.stage = (carried.stage if carried else Stage.REMINDING).value
            strategy = value.strategy
            details.update(
                strategy_id=strategy.id,
                strategy_version=str(strategy.version),
                loan_id=value.loan.loan_id,
                borrower_id=value.borrower.id,
                amount_overdue=c.money_str(value.loan.amount_overdue),
            )
            what = f"run {carried.run_number + 1} started" if carried else "case started"
            summary = f"{what} on strategy {strategy.id} v{strategy.version}"
        else:
            summary = f"run started; input could not be read: {problem}"
        self.emit(run, run_id, event, "workflow", "workflow_started", summary, details)

    def closed(self, run: int, run_id: str, event: HistoryEvent) -> None:
        if event.HasField("workflow_execution_continued_as_new_event_attributes"):
            new_run = (
                event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            )
            summary = f"continued as new run {new_run}"
            details = {"new_run_id": new_run}
            self.emit(run, run_id, event, "workflow", "continued_as_new", summary, details)
        elif event.HasField("workflow_execution_completed_event_attributes"):
            result = event.workflow_execution_completed_event_attributes.result
            value, _ = self.decode(result, c.CaseView)
            summary, details = "case completed", {}
            if isinstance(value, c.CaseView):
                details = {"stage": value.stage.value, "balance": c.money_str(value.balance)}
                summary += f" in stage {value.stage.value}, balance {details['balance']}"
            self.emit(run, run_id, event, "workflow", "workflow_completed", summary, details)
        else:
            which = event.WhichOneof("attributes") or ""
            name = which.removeprefix("workflow_execution_").removesuffix("_event_attributes")
            summary = f"run ended: {name.replace('_', ' ')}"
            self.emit(run, run_id, event, "workflow", f"workflow_{name}", summary)

    def timer(self, run: int, run_id: str, event: HistoryEvent) -> None:
        if event.HasField("timer_started_event_attributes"):
            attrs = event.timer_started_event_attributes
            fire_at = (event_time(event) + attrs.start_to_fire_timeout.ToTimedelta()).isoformat()
            summary = f"timer {attrs.timer_id} started; fires at {fire_at}"
            details = {"timer_id": attrs.timer_id, "fires_at": fire_at}
            self.emit(run, run_id, event, "timer", "timer_started", summary, details)
        elif event.HasField("timer_fired_event_attributes"):
            timer_id = event.timer_fired_event_attributes.timer_id
            summary = f"timer {timer_id} fired"
            self.emit(run, run_id, event, "timer", "timer_fired", summary, {"timer_id": timer_id})
        else:
            timer_id = event.timer_canceled_event_attributes.timer_id
            summary = f"timer {timer_id} cancelled (the wait ended early)"
            details = {"timer_id": timer_id}
            self.emit(run, run_id, event, "timer", "timer_canceled", summary, details)
