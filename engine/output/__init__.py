"""Output: renderings of a diagnosis for people (the report, the trace) and record writers."""
