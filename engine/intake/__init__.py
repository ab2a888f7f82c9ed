"""Intake: whatever the user has (files, bytes, text, containers) into messages and their parts."""
