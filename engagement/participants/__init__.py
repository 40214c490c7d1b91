"""The cohort roster and the identity vault: who may log in, kept apart from what they answer."""
