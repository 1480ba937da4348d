"""The Telegram side of the helpdesk: relay (copies both ways), topics (each ticket's topic and
card), card, queue and report texts, the operator's signature, and the paced outbox every group
call goes through.

The domain (tickets, transcript, masking, working hours) lives in `services/helpdesk`.
"""
