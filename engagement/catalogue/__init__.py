"""Public metadata of the questionnaire datasets and their variables (DCAT-AP-NO, DDI, FHIR)."""
