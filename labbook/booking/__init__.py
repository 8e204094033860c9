"""Bookings, booking rules, recurrence, blackouts and approval."""
