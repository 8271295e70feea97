"""The error tree.

``StewardError`` is the root. ``UserError`` means the input or the set-up is wrong and the
message says how to fix it; ``RunError`` means a run could not finish and carries its id so the
partial run record can be found (``ModelOutputError``: the model never wrote valid output;
``ServerError``: the model server kept failing, whatever the model would have written).
``ToolError`` is raised by app tools: its text goes back to the model as the observation, it
never ends a run.
"""

from __future__ import annotations


class StewardError(Exception):
    """Root of every error Steward raises on purpose.

    ``record`` is the call record of the model call that failed, when one did; ``calls`` are the
    records of earlier calls made for the same purpose (a plan's repair rounds), so a run record
    keeps every call even when the run ends in this error.
    """

    record: object | None = None
    calls: tuple[object, ...] | list[object] = ()
    """Replaced per instance (a list), never mutated in place."""


class UserError(StewardError):
    """Bad input or set-up; the message says what to change."""


class BadInstructionError(UserError):
    """The instruction is empty, too long, or not text."""


class ScenarioError(UserError):
    """A scenario file is missing, malformed or names an unknown app."""


class UnknownAgentError(UserError):
    """A task token or app name that no registered specialist has."""


class ConfigError(UserError):
    """A configuration file or environment variable is invalid."""


class ServerUnreachableError(UserError):
    """The model server at ``url`` cannot be reached."""

    def __init__(self, url: str, detail: str = "", hint: str = "") -> None:
        self.url = url
        self.detail = detail
        self.hint = hint or (
            "start the embedded server with `steward serve`, or pass --base-url for another "
            "OpenAI-compatible server"
        )
        msg = f"model server at {url} is unreachable"
        if detail:
            msg += f" ({detail})"
        super().__init__(f"{msg}; {self.hint}")


class RunError(StewardError):
    """A run stopped before it finished; ``run_id`` names its (partial) run record."""

    def __init__(self, message: str, run_id: str | None = None) -> None:
        self.run_id = run_id
        super().__init__(message)


class PlanInvalidError(RunError):
    """The steward's plan never validated within the allowed repairs."""


class ModelOutputError(RunError):
    """Model output never parsed or validated within the allowed re-asks."""


class ServerError(RunError):
    """The model server kept failing (HTTP 5xx or 429, timeouts, answers without choices) after
    the client's retries: the server is at fault, not the model's output, so no agent retries
    or re-plans on it and the run stops at once. The message names the last failure; the
    server's log says why.

    ``url`` is the server's base URL, ``status`` the last HTTP status (``None`` for a timeout
    or an answer without choices), ``tries`` the requests sent.
    """

    def __init__(
        self,
        message: str,
        run_id: str | None = None,
        *,
        url: str = "",
        status: int | None = None,
        tries: int = 0,
    ) -> None:
        self.url = url
        self.status = status
        self.tries = tries
        super().__init__(message, run_id)


class BudgetExceededError(RunError):
    """A run budget (tokens, model calls, wall clock) ran out."""


class ToolError(Exception):
    """Raised by an app tool; the text is shown to the model as the observation."""
