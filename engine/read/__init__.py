"""Reading: the lark grammars in ``grammar/`` loaded into parsers, and the line walker over NDR text."""
