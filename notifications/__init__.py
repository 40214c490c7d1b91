"""The reminder worker: plans reminders into the outbox, claims and sends them. Depends on ``engagement``."""
