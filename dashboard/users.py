"""Who may log in to the dashboard to label alerts: a YAML file of users and bcrypt password
hashes (streamlit-authenticator's credentials format), never a password in clear.

    python -m dashboard.users add NAME [--display-name TEXT]   # asks for the password (or reads stdin)
    python -m dashboard.users list

`make services-up` creates the file with one local user, `analyst`, whose password it keeps in
state/secrets/dashboard-analyst-password (like the local database's passwords)."""
from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import tempfile
from pathlib import Path

import bcrypt
import yaml

from core.config import AppConfig, load_config

LOCAL_ANALYST = "analyst"
USERNAME = re.compile(r"^[a-z0-9_.@\-]{1,64}$")  # also what a label's labeled_by may hold
BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
MIN_PASSWORD_CHARS = 12


class UsersFileError(ValueError):
    """The users file is missing or not in the expected shape."""


def read_credentials(path: Path) -> dict:
    """{'usernames': {name: {'name': ..., 'password': bcrypt hash}}}, as streamlit-authenticator takes it."""
    if not path.is_file():
        raise UsersFileError(f"no dashboard users file at {path}: run `make services-up` (local) or "
                             "`python -m dashboard.users add NAME`")
    credentials = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    users = credentials.get("usernames")
    if not isinstance(users, dict) or not users:
        raise UsersFileError(f"{path}: expected a mapping 'usernames' with at least one user")
    for name, user in users.items():
        if not USERNAME.match(str(name)) or not BCRYPT_HASH.match(str((user or {}).get("password", ""))):
            raise UsersFileError(f"{path}: user {name!r} needs a lower-case name of A-Za-z0-9_.@- and a bcrypt "
                                 "password hash (python -m dashboard.users add NAME)")
    return credentials


def with_user(credentials: dict, username: str, password: str, display_name: str) -> dict:
    """The credentials with username added or its password replaced (hashed here)."""
    if not USERNAME.match(username):
        raise UsersFileError(f"user name {username!r}: 1-64 of a-z 0-9 _ . @ -")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsersFileError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    users = dict(credentials.get("usernames") or {})
    # bcrypt directly (what streamlit-authenticator checks with): importing that library from
    # services-up would start Streamlit's runtime warnings outside a Streamlit app.
    users[username] = {"name": display_name, "password": bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}
    return {**credentials, "usernames": users}


def write_credentials(path: Path, credentials: dict) -> None:
    """Replace the file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        yaml.safe_dump(credentials, handle, sort_keys=True)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def ensure_local_analyst(config: AppConfig, password_file: Path | None = None) -> None:
    """The local set-up's users file (user `analyst`, its password in a 0600 secrets file) and the
    login cookie's key, each kept if present."""
    from services.processes import read_or_create_secret

    read_or_create_secret(config.dashboard.cookie_key_file)  # signs the login cookie
    path = config.dashboard.users_file
    if path.exists():
        return
    password_file = password_file or config.local_services.state_dir / "secrets" / "dashboard-analyst-password"
    password = read_or_create_secret(password_file)
    write_credentials(path, with_user({}, LOCAL_ANALYST, password, "Local analyst"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.users", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user or replace a user's password")
    add.add_argument("username")
    add.add_argument("--display-name", default=None)
    commands.add_parser("list", help="the users' names")
    args = parser.parse_args(argv)
    path = load_config().dashboard.users_file
    try:
        if args.command == "list":
            for name, user in sorted(read_credentials(path)["usernames"].items()):
                print(f"{name}\t{user.get('name', '')}")
            return 0
        current = read_credentials(path) if path.exists() else {}
        password = getpass.getpass(f"password for {args.username}: ") if sys.stdin.isatty() else sys.stdin.readline()
        write_credentials(path, with_user(current, args.username, password.rstrip("\n"),
                                          args.display_name or args.username))
        print(f"{args.username} can log in (users file {path})")
        return 0
    except UsersFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
