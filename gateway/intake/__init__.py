"""What happens to one inbound message: the ordered decision, the loop breaker, refusal notices."""
