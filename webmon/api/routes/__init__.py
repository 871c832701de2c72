"""One router per resource: sites and their history, tasks, status, operations."""
