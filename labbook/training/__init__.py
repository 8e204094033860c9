"""Training: researchers ask for it, managers hold sessions, an exam passed grants the
qualification."""
