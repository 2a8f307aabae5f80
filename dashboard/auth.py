"""The dashboard's login, for the views that write (labels): streamlit-authenticator over the
users file (dashboard/users.py, bcrypt hashes), with a signed cookie so a reload stays logged in.
The read-only views need no login; what they read, the database's read-only account allows."""
from __future__ import annotations

import copy

import streamlit as st
import streamlit_authenticator as stauth

from core.config import DashboardConfig
from dashboard.users import UsersFileError, read_credentials

COOKIE_NAME = "payscore_dashboard"
COOKIE_DAYS = 1.0


def cookie_key(config: DashboardConfig) -> str | None:
    try:
        return config.cookie_key_file.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def logged_in_user(config: DashboardConfig) -> str | None:
    """The user name of this session's analyst, rendering the login form until there is one."""
    key = cookie_key(config)
    try:
        credentials = copy.deepcopy(read_credentials(config.users_file))  # the library marks it; keep the file as is
    except UsersFileError as error:
        st.warning(f"Labelling is off: {error}")
        return None
    if key is None:
        st.warning(f"Labelling is off: no cookie key in {config.cookie_key_file} (make services-up writes one)")
        return None
    authenticator = stauth.Authenticate(credentials, COOKIE_NAME, key, COOKIE_DAYS, auto_hash=False)
    authenticator.login(location="main", key="label-login",
                        fields={"Form name": "Log in to label alerts", "Username": "User name",
                                "Password": "Password", "Login": "Log in"})
    status = st.session_state.get("authentication_status")
    if status:
        authenticator.logout("Log out", location="sidebar", key="label-logout")
        return st.session_state["username"]
    if status is False:
        st.error("Wrong user name or password.")
    return None
