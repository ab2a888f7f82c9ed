"""Built-in rule packs (data only: each folder holds a pack.toml)."""
