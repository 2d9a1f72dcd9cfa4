from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "tambo.exchange"
    label = "exchange"
    verbose_name = "Intercambio entre entidades"
