"""Dispatcher middlewares: locale, de-duplication, throttling, storage scope."""
