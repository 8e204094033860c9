"""Organizations, users, sign-in and API tokens."""
