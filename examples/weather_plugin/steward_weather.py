"""A Steward specialist for a new app, in about 20 lines."""

from agents import Specialist
from apps import PythonApp


class Weather:
    def __init__(self, forecasts: dict[str, str] | None = None) -> None:
        self.forecasts = forecasts or {"Paris": "sunny", "Oslo": "snow"}
        self.alerts: list[str] = []

    def forecast(self, city: str) -> str:
        """Tomorrow's weather in a city."""
        return self.forecasts.get(city, "unknown")

    def add_alert(self, city: str, text: str) -> int:
        """Subscribe to an alert for a city; returns the alert number."""
        self.alerts.append(f"{city}: {text}")
        return len(self.alerts)


specialist = Specialist(
    name="weather",
    description="Weather forecasts and alerts for cities.",
    app_factory=lambda state: PythonApp(Weather(**state), name="weather", description="Weather"),
)
