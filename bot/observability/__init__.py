"""What an operator sees of a running bot: JSON logs, Prometheus metrics, health and readiness.

`logs` formats log lines and carries the update being handled; `metrics` counts updates, backend
and Telegram calls; `health` answers /healthz and /readyz; `routes` puts both on an aiohttp app
(the webhook server's, or a small one of its own in polling mode).
"""
