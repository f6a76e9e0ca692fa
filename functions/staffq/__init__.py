"""The staff work queue: what needs a person now, most urgent first (GET /staff/queue)."""
