"""Work the gateway runs on its own schedule: retention policies and continuous queries."""
