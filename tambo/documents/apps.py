"""App config of ``tambo.documents``: signed PDFs the agencies issue, and their public check."""

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "tambo.documents"
    label = "documents"
    verbose_name = "Documentos firmados"
