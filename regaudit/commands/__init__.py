"""The commands: one thin module per ``regaudit`` subcommand (``regaudit.cli`` lists and imports them)."""
