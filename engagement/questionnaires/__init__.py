"""Questionnaires: versioned definition files, publishing, the catalogue, tasks, drafts and submissions."""
