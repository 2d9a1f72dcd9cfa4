"""``tambo keys``."""
