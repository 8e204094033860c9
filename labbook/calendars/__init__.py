"""iCal feeds: subscription tokens, the feeds, and the one renderer of calendar events."""
