"""Management commands of the signed-documents app."""
