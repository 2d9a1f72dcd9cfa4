from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "tambo.catalog"
    label = "catalog"
    verbose_name = "Catalogue (TUPA)"
