"""The marketer's console at `/console`: server-rendered pages over the program, campaigns, templates and
reports services (issue 18, part 5)."""
