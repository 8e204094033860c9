"""Reports: figures, tables and dashboards read from the other areas."""
