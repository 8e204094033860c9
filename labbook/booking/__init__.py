"""Bookings and their rules, series, approval, closures, actual use and training records."""
