"""Facts: the parts of a bounce read into one typed :class:`~ndrkb.models.RecipientFacts` per recipient."""
