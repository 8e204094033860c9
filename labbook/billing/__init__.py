"""Rate cards, charges and monthly statements."""
