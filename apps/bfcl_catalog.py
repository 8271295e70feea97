"""What Steward knows about the eight stateful apps shipped in ``bfcl-eval``.

Static data only (no ``bfcl_eval`` import): the short app name used everywhere in Steward, the
BFCL class and module, the func doc file, a description and practical tips for a staff agent.
The tips were written from the apps' source code, so they describe how the tools really behave.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

BFCL_MODULE_PREFIX = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"


class BfclAppInfo(BaseModel):
    """One BFCL app as Steward names and describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Steward's short name, e.g. ``travel``."""
    class_name: str
    """The BFCL class, e.g. ``TravelAPI`` (the key of BFCL's ``initial_config``)."""
    module: str
    """Module of the class under ``bfcl_eval...func_source_code``."""
    func_doc: str
    """File name of the tool docs under ``bfcl_eval/data/multi_turn_func_doc``."""
    description: str
    """One paragraph: what the app does."""
    tips: list[str]
    """Short practical tips for an agent driving the app, one per item."""
    stateless: bool = False
    """True when the app keeps no state (math)."""
    sensitive: tuple[str, ...] = ()
    """Tools a person would want to approve before they run: they send, post, pay, book,
    cancel or delete on the user's behalf (``apps.Tool.sensitive``)."""
    widen_types: dict[str, dict[str, list[str]]] = {}
    """tool -> argument -> JSON types accepted beyond the documented one, where BFCL's own
    tasks and ground truth use another type than its docs say."""

    @property
    def notes(self) -> str:
        """The tips as one text, a ``- `` bullet per line (for prompts)."""
        return "\n".join(f"- {tip}" for tip in self.tips)


_APPS = [
    BfclAppInfo(
        name="file_system",
        class_name="GorillaFileSystem",
        module="gorilla_file_system",
        func_doc="gorilla_file_system.json",
        sensitive=("rm", "rmdir"),
        description=(
            "A small in-memory Unix-like file system with one current working directory. "
            "It navigates directories (pwd, ls, cd, find), creates files and directories "
            "(touch, mkdir), reads and writes text files (cat, echo, tail, grep, wc, sort, "
            "diff, du) and moves, copies or removes items (mv, cp, rm, rmdir)."
        ),
        tips=[
            "Almost every command acts on names in the current directory only; file_name "
            "arguments are plain names, never paths. Use pwd, ls and find to locate things.",
            "cd moves one level at a time: cd('subdir'), cd('..') or cd('/') for the root; "
            "nested paths like 'a/b' are refused.",
            "echo(content, file_name) overwrites an existing file; create it first with "
            "touch(file_name). echo without file_name only prints.",
            "mv/cp destination is a name in the current directory; if it names an existing "
            "directory the item goes into it, otherwise it is renamed/copied to that name.",
            "find(path='.', name=...) searches recursively and matches substrings of names.",
            "wc mode is 'l' (lines), 'w' (words) or 'c' (characters).",
        ],
    ),
    BfclAppInfo(
        name="math",
        class_name="MathAPI",
        module="math_api",
        func_doc="math_api.json",
        description=(
            "A stateless calculator: arithmetic (add, subtract, multiply, divide, power), "
            "square roots and logarithms at a chosen precision, absolute value, rounding, "
            "percentages, statistics over lists (mean, standard deviation, min, max, sum) "
            "and unit conversions within SI and between imperial and SI units."
        ),
        tips=[
            "It keeps no state: call it for each computation you need and use the 'result'.",
            "logarithm(value, base, precision) and square_root(number, precision) need an "
            "integer precision (number of significant digits), e.g. 10.",
            "mean, standard_deviation, min_value, max_value and sum_values take a list of "
            "numbers; round_number(number, decimal_places) defaults to 0 places.",
            "si_unit_conversion and imperial_si_conversion take value, unit_in, unit_out.",
        ],
        stateless=True,
    ),
    BfclAppInfo(
        name="messaging",
        class_name="MessageAPI",
        module="message_api",
        func_doc="message_api.json",
        sensitive=("send_message", "delete_message"),
        description=(
            "A workspace messenger. Users have names and ids like 'USR001'; a logged-in user "
            "sends messages to other users by id, lists what was sent, searches messages, "
            "deletes the latest message sent to someone, adds contacts and reads statistics."
        ),
        tips=[
            "Most tools need a logged-in user: check message_get_login_status, and if needed "
            "message_login(user_id) with an id such as 'USR001' (not a name).",
            "Messages go to receiver ids: get_user_id(user='Alice') maps a name to its id; "
            "list_users lists all names.",
            "add_contact(user_name) creates a new user and returns its new id.",
            "delete_message(receiver_id) removes the latest message sent to that receiver.",
            "send_message returns a numeric message_id inside {'new_id': ...}.",
        ],
    ),
    BfclAppInfo(
        name="posting",
        class_name="TwitterAPI",
        module="posting_api",
        func_doc="posting_api.json",
        sensitive=("post_tweet", "comment", "retweet"),
        description=(
            "A Twitter-like social network for one account: post tweets with tags and "
            "mentions, retweet, comment, mention users in a tweet, follow and unfollow users, "
            "and look up tweets, comments, a user's tweets and statistics."
        ),
        tips=[
            "post_tweet, retweet, comment, follow_user, unfollow_user and list_all_following "
            "need authentication: check posting_get_login_status, and if needed "
            "authenticate_twitter(username, password) with the account's credentials.",
            "Tweet ids are integers (the 'id' returned by post_tweet).",
            "tags should start with '#' and mentions with '@'; omit them when not asked for.",
            "mention(tweet_id, mentioned_usernames) adds mentions to an existing tweet.",
        ],
    ),
    BfclAppInfo(
        name="tickets",
        class_name="TicketAPI",
        module="ticket_api",
        func_doc="ticket_api.json",
        description=(
            "A company support ticket system: log in, create tickets with a title, "
            "description and priority, list your tickets, read, edit, close or resolve a "
            "ticket by id, and log out."
        ),
        tips=[
            "create_ticket and get_user_tickets need a logged-in user: ticket_login(username, "
            "password) accepts any non-empty credentials; ticket_get_login_status checks.",
            "Ticket ids are usually integers (use the id exactly as shown); priority is an "
            "integer from 1 to 5 (5 is highest).",
            "edit_ticket(ticket_id, updates) changes only title, description, status or "
            "priority; resolve_ticket stores a resolution text, close_ticket just closes.",
        ],
        # Some BFCL scenarios hold string ticket ids ('ticket_001') and the ground truth
        # passes them as such, though the docs say integer.
        widen_types={
            tool: {"ticket_id": ["integer", "string"]}
            for tool in ("get_ticket", "close_ticket", "resolve_ticket", "edit_ticket")
        },
    ),
    BfclAppInfo(
        name="trading",
        class_name="TradingBot",
        module="trading_bot",
        func_doc="trading_bot.json",
        sensitive=("place_order", "cancel_order", "fund_account", "withdraw_funds"),
        description=(
            "A stock trading account: look up symbols, prices and sectors, keep a watchlist, "
            "place and cancel buy/sell orders, fund the account or withdraw money, and review "
            "account information, order history and transaction history."
        ),
        tips=[
            "place_order, account info, funding, withdrawals, watchlist changes and histories "
            "need a login: trading_login(username, password) accepts any credentials.",
            "Order ids are integers; order_type is 'Buy' or 'Sell'; a buy needs a balance of "
            "at least price * amount.",
            "get_symbol_by_name maps a company name ('Apple') to its symbol ('AAPL'); "
            "get_stock_info(symbol) gives the current price.",
            "withdraw_funds only works while the market is open; no tool opens the market.",
            "cancel_order refuses completed orders.",
        ],
    ),
    BfclAppInfo(
        name="travel",
        class_name="TravelAPI",
        module="travel_booking",
        func_doc="travel_booking.json",
        sensitive=("book_flight", "cancel_booking", "purchase_insurance"),
        description=(
            "A corporate travel system: authenticate, look up airports and flight prices, "
            "book and cancel flights with a registered credit card, buy travel insurance, "
            "get invoices and booking history, manage credit cards and a budget limit, "
            "verify traveller details, convert currencies and contact customer support."
        ),
        tips=[
            "Most tools need an access_token: call authenticate_travel first (it accepts any "
            "client_id, client_secret and refresh_token; use grant_type 'read_write' and the "
            "traveller's first and last name) and pass the returned access_token.",
            "Airports are 3-letter codes: get_nearest_airport_by_city('San Francisco') -> "
            "'SFO'; list_all_airports lists them.",
            "get_flight_cost(travel_from, travel_to, travel_date, travel_class) prices one "
            "class; classes are 'economy', 'business' and 'first' (compare them to find the "
            "cheapest). Dates are 'YYYY-MM-DD'.",
            "Card ids are the keys returned by get_all_credit_cards (no token needed); "
            "book_flight returns a string booking_id.",
            "A booking fails if the card balance is below the flight cost or below the "
            "budget limit.",
        ],
    ),
    BfclAppInfo(
        name="vehicle",
        class_name="VehicleControlAPI",
        module="vehicle_control",
        func_doc="vehicle_control.json",
        description=(
            "A car's control system: start and stop the engine, lock doors, fill the fuel "
            "tank, set climate control, headlights, parking brake, brake pedal and cruise "
            "control, navigate, check tire pressure, show car status, and estimate distances "
            "and driving range between cities."
        ),
        tips=[
            "To start the engine: lock all four doors (lockDoors(unlock=False, door=['driver', "
            "'passenger', 'rear_left', 'rear_right'])), press the brake fully "
            "(pressBrakePedal(pedalPosition=1.0)), then startEngine(ignitionMode='START').",
            "Cruise control needs a running engine and a speed that is a multiple of 5 "
            "between 0 and 120.",
            "Fuel is in gallons, the tank holds 50; fillFuelTank adds fuelAmount gallons.",
            "estimate_distance takes zip codes: get them with get_zipcode_based_on_city.",
            "displayCarStatus(option) shows one of: fuel, battery, doors, climate, headlights, "
            "parkingBrake, brakePedal, engine.",
        ],
    ),
]

BFCL_APPS: dict[str, BfclAppInfo] = {info.name: info for info in _APPS}
"""Steward app name -> ``BfclAppInfo`` for the eight BFCL multi-turn apps."""

BFCL_CLASS_TO_APP: dict[str, str] = {info.class_name: info.name for info in _APPS}
"""BFCL class name (``initial_config`` key) -> Steward app name."""
