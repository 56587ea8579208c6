"""Custom segments (issue 14, part 3)."""
