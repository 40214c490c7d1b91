"""Consent at 18: versioned consent documents, the decision ledger, and the one question every use asks."""
