"""The ``steward`` command line. Library errors become clean one-line CLI errors only here."""
