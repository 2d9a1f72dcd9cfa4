from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "tambo.cases"
    label = "cases"
    verbose_name = "Expedientes"
