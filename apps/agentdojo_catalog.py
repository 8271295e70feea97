"""How Steward splits AgentDojo's suites into apps a user would name.

Static data only (no ``agentdojo`` import). Each AgentDojo suite has one environment object and
one list of tools; Steward gives each app of the suite (email, calendar, drive, bank, ...) its own
task token and the suite's tools that act on it, with AgentDojo's own tool descriptions. The
descriptions below say what each app is for, nothing about the benchmark's tasks: AgentDojo is
held out, so no tips learned from its tasks go into prompts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

AGENTDOJO_VERSION = "v1.2.2"
"""The benchmark version Steward runs (``agentdojo.task_suite.load_suites.get_suites``)."""


class AgentDojoAppInfo(BaseModel):
    """One app of an AgentDojo suite as Steward names and describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Steward's app name (its task token is ``<app:NAME>``), unique within the suite."""
    description: str
    """One paragraph the steward reads when it recruits."""
    tools: tuple[str, ...]
    """Names of the suite's tools that belong to this app."""
    holds: tuple[str, ...] = ()
    """Fields of the suite's environment that are this app's own data (where an injection
    placed in that field is read)."""


def _app(name: str, description: str, tools: str, holds: str = "") -> AgentDojoAppInfo:
    return AgentDojoAppInfo(
        name=name, description=description, tools=tuple(tools.split()), holds=tuple(holds.split())
    )


_EMAIL = (
    "The user's email account: read, search and send email, drafts and sent mail, and the "
    "contact list."
)
_CALENDAR = (
    "The user's calendar: today's date, the events of a day, search events, create, cancel "
    "or reschedule events and add participants (participants are emailed)."
)

AGENTDOJO_APPS: dict[str, tuple[AgentDojoAppInfo, ...]] = {
    "workspace": (
        _app(
            "email",
            _EMAIL,
            "send_email delete_email get_unread_emails get_sent_emails get_received_emails "
            "get_draft_emails search_emails search_contacts_by_name search_contacts_by_email",
            "inbox",
        ),
        _app(
            "calendar",
            _CALENDAR,
            "get_current_day search_calendar_events get_day_calendar_events "
            "create_calendar_event cancel_calendar_event reschedule_calendar_event "
            "add_calendar_event_participants",
            "calendar",
        ),
        _app(
            "drive",
            "The user's cloud drive: list, search, read, create, append to, delete and share "
            "files.",
            "append_to_file search_files_by_filename create_file delete_file get_file_by_id "
            "list_files share_file search_files",
            "cloud_drive",
        ),
    ),
    "travel": (
        _app(
            "hotels",
            "Hotels by city: prices, ratings and reviews, addresses, and hotel reservations.",
            "get_all_hotels_in_city get_hotels_prices get_rating_reviews_for_hotels "
            "get_hotels_address reserve_hotel",
            "hotels",
        ),
        _app(
            "restaurants",
            "Restaurants by city: cuisine, prices, ratings and reviews, dietary options, "
            "opening hours, addresses and contact details, and restaurant reservations.",
            "get_all_restaurants_in_city get_cuisine_type_for_restaurants "
            "get_restaurants_address get_rating_reviews_for_restaurants "
            "get_dietary_restrictions_for_all_restaurants "
            "get_contact_information_for_restaurants get_price_for_restaurants "
            "check_restaurant_opening_hours reserve_restaurant",
            "restaurants",
        ),
        _app(
            "car_rental",
            "Car rental companies by city: car types, fuel options, prices per day, ratings "
            "and reviews, addresses, and car rental reservations.",
            "get_all_car_rental_companies_in_city get_car_types_available "
            "get_rating_reviews_for_car_rental get_car_fuel_options get_car_rental_address "
            "get_car_price_per_day reserve_car_rental",
            "car_rental",
        ),
        _app(
            "flights",
            "Flights between two cities: airlines, times, prices and seats.",
            "get_flight_information",
            "flights",
        ),
        _app(
            "profile",
            "The user's own details: name, ID and passport numbers, contact details, payment card.",
            "get_user_information",
            "user",
        ),
        _app(
            "calendar",
            "The user's calendar: the events of a day, search events, create or cancel events.",
            "create_calendar_event search_calendar_events get_day_calendar_events "
            "cancel_calendar_event",
            "calendar",
        ),
        _app("email", "The user's email account: send email.", "send_email", "inbox"),
    ),
    "banking": (
        _app(
            "bank",
            "The user's bank account: IBAN, balance, recent and scheduled transactions, "
            "sending money, scheduling and updating transactions.",
            "get_iban send_money schedule_transaction update_scheduled_transaction get_balance "
            "get_most_recent_transactions get_scheduled_transactions",
            "bank_account",
        ),
        _app("files", "The user's files: read a file by its path.", "read_file", "filesystem"),
        _app(
            "account",
            "The user's account settings: personal information and password.",
            "get_user_info update_password update_user_info",
            "user_account",
        ),
    ),
    "slack": (
        _app(
            "slack",
            "A Slack workspace: channels and their members and messages, direct messages and "
            "inboxes, inviting, adding and removing users.",
            "get_channels add_user_to_channel read_channel_messages read_inbox "
            "send_direct_message send_channel_message get_users_in_channel "
            "invite_user_to_slack remove_user_from_slack",
            "slack",
        ),
        _app(
            "web",
            "The web: read the page at a URL, or post content to a URL.",
            "get_webpage post_webpage",
            "web",
        ),
    ),
}
"""Suite name -> its apps, in the order a plan lists them."""

SUITES: tuple[str, ...] = tuple(AGENTDOJO_APPS)
"""AgentDojo's four suites."""
