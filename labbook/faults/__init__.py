"""The breakdown and maintenance log of instruments, fed by users' fault reports."""
