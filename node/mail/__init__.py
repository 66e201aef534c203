"""Mail to members: composing each mail from its templates, and sending the outbox over SMTP."""
