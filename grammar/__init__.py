"""Lark grammars shipped with ndrkb."""
