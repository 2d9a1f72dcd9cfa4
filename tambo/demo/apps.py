from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "tambo.demo"
    label = "demo"
    verbose_name = "Demo data"
