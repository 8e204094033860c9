"""Organizations, users, sign-in, qualifications and API tokens."""
