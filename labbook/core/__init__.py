"""Framework-free building blocks: database base and column types, time helpers, domain errors."""
