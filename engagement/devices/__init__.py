"""Push registrations per participant."""
