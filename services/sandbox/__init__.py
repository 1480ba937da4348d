"""Local sandbox stage: the demo backend, a Telegram Bot API emulator and a browser UI.

`python -m bot` without BOT_TOKEN calls `bot.sandbox.run_sandbox`, which starts the stage
(`stage.start_stage`) and runs the unmodified bot against it.
"""
