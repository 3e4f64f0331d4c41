"""How mail and people reach the gateway and what it answers them: SMTP, IMAP, the accept pages, the staff API, the CLI."""
