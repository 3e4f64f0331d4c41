"""Accounts, tickets, delegates and who has access: the rules that hold whatever the channel."""
