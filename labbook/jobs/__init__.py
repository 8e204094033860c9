"""Background jobs: the scheduler process, the job registry and the one-scheduler lock."""
