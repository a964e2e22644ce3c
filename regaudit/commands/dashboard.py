"""``regaudit dashboard``: serve the Streamlit app on the store; ``add-user`` and ``hash-password`` manage the
local users file.

``regaudit dashboard [--db F] [--host H] [--port P] [--demo]`` checks the store and the login setup, hands
the settings to the app in a private temporary file (``runtime.py``) and runs ``streamlit run app.py`` until
interrupted, passing SIGINT and SIGTERM on (``regaudit.dashboard.server``). Demo mode binds to 127.0.0.1 whatever
the host setting says.
``regaudit dashboard add-user alice --role analyst`` asks for the password (or reads one line from stdin
with ``--password-stdin``; ``--no-password`` lists an OIDC user's role) and writes ``dashboard.users_file``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from regaudit.dashboard import auth, server
from regaudit.dashboard.server import DashboardSetupError
from regaudit.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="serve",
        choices=["serve", "add-user", "hash-password"],
        help="serve (default), add-user NAME, or hash-password.",
    )
    parser.add_argument("user", nargs="?", help="add-user: the user name (an e-mail for OIDC users).")
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument("--host", help="Address to listen on (default: dashboard.host).")
    parser.add_argument("--port", type=int, help="Port to listen on (default: dashboard.port).")
    parser.add_argument("--demo", action="store_true", default=None, help="Demo mode: 127.0.0.1, no login.")
    parser.add_argument("--users-file", help="Local users file (default: dashboard.users_file).")
    parser.add_argument("--role", choices=auth.ROLES, default="viewer", help="add-user: the role (viewer).")
    parser.add_argument("--password-stdin", action="store_true", help="Read the password from one stdin line.")
    parser.add_argument("--no-password", action="store_true", help="add-user: an OIDC user's role only.")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {
        "store": {"path": args.db},
        "dashboard": {"host": args.host, "port": args.port, "demo": args.demo, "users_file": args.users_file},
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "hash-password":
        print(auth.hash_password(_password(args)))
        return 0
    if args.action == "add-user":
        return _add_user(args, settings)
    return server.start(settings)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise DashboardSetupError("the passwords differ")
    return first


def _add_user(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.dashboard.users_file
    if path is None or not args.user:
        raise DashboardSetupError("add-user needs a user name and dashboard.users_file (or --users-file)")
    password = None if args.no_password else _password(args)
    try:
        entry = auth.add_user(path, args.user, args.role, password)
    except ValueError as error:
        raise DashboardSetupError(str(error)) from error
    print(
        f"{path}: {entry.name} is an {entry.role}" if entry.role == "analyst" else f"{path}: {entry.name} is a viewer"
    )
    return 0
