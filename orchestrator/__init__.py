"""The langgraph run graph.

plan -> schedule -> work (parallel; attempt, evaluate, retry) -> re-plan -> finish.
"""

from orchestrator.events import Event, EventCallback
from orchestrator.record import build_record
from orchestrator.runner import Orchestrator

__all__ = ["Event", "EventCallback", "Orchestrator", "build_record"]
