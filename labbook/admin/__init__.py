"""Administration: instruments, testing services and the catalogue files; organizations and
users; the audit log."""
