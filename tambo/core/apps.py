from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tambo.core"
    label = "core"
    verbose_name = "Tambo core"
