"""Audit trail: who changed what, when, from what to what."""
