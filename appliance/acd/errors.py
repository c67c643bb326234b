"""The ACD's refusal: an agent or supervisor command that cannot be done now (the message says why,
in Chinese, and the desk shows it as is)."""


class AcdError(ValueError):
    """An agent command was refused (the message says why and can be shown)."""
