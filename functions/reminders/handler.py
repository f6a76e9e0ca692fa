"""dispatch_reminders (EventBridge schedule)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from functions.core.log import get_logger

if TYPE_CHECKING:
    from types import ModuleType


def _dispatch() -> ModuleType:
    """The dispatcher, imported on first use: the API Lambda imports this module too."""
    from functions.reminders import dispatch

    return dispatch


bp = Blueprint(__name__)
logger = get_logger("reminders")


@bp.lambda_function(name="dispatch_reminders")
@logger.inject_lambda_context(clear_state=True)
def dispatch_reminders(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Stops claiming ~10 s before the timeout; what is left stays due for the next run.
    result: dict[str, Any] = _dispatch().dispatch(time_left_ms=context.get_remaining_time_in_millis)
    logger.info("dispatch run", extra=result)
    return result

