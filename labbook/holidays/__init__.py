"""Statutory holidays and make-up working days (调休), and the working days they make."""
