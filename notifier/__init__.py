"""The notifier: sends the outbox's notifications (incidents opened, resolved, reminders,
tests) to their channels, at least once each, with a stable idempotency key."""
