"""Withdrawal: its effects across domains, childhood-data deletion requests, the participant's data copy."""
