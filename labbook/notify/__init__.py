"""Email: the outbox written with each change, its rendering and its delivery."""
