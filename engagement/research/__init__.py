"""Research extracts: pseudonymised, consent-filtered deliveries with codebooks into the research data store."""
