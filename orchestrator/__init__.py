"""The langgraph run graph: plan -> schedule -> work (parallel) -> evaluate/retry -> re-plan -> finish."""

from orchestrator.events import Event, EventCallback
from orchestrator.record import build_record
from orchestrator.runner import Orchestrator

__all__ = ["Event", "EventCallback", "Orchestrator", "build_record"]
