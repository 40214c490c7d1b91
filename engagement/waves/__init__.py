"""Questionnaire waves: eligibility, launch, tasks, the reminder outbox and statistics."""
