"""Owner units' revenue-sharing agreements, their contact persons and the monthly settlement."""
