"""Mail going out: queued rows, rendering and composing each copy when sent, the courier, deliverability."""
