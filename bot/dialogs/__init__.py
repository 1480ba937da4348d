"""The dialogs of the bot and their shared parts; `bot.dialogs.all` lists the dialogs.

Kept free of imports: importing one module of the package (the step table, say) must not
import every dialog (and with them the whole bot) first.
"""
