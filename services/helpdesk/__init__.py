"""The helpdesk domain: tickets, their log, ratings, working hours, transcripts, masking.

No Telegram types here; `bot/` turns these into topics, cards and relayed messages.
"""

from services.helpdesk.hours import WorkCalendar, WorkingHours
from services.helpdesk.masking import mask_bot_text, mask_message, mask_secrets
from services.helpdesk.tickets import ClosedBy, MessageDirection, OpenedTicket, TicketService
from services.helpdesk.transcript import TranscriptStore

__all__ = [
    "ClosedBy",
    "MessageDirection",
    "OpenedTicket",
    "TicketService",
    "TranscriptStore",
    "WorkCalendar",
    "WorkingHours",
    "mask_bot_text",
    "mask_message",
    "mask_secrets",
]
