"""Local sandbox: a Telegram Bot API emulator, a browser UI and the runner that starts everything.

`python -m bot` without BOT_TOKEN calls `services.sandbox.runner.run_sandbox`.
"""
