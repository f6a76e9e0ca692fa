"""The PHI access audit: who read or changed a patient's record, when, and the outcome."""
