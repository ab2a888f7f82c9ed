"""Rules: the pack schema, loading, validation and dispatch, and the experta inference over them."""
