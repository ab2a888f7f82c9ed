"""ndrkb test suite."""
