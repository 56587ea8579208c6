"""The bonus engine service: HTTP, Postgres, Redis and the command line around the pure `rules` core."""
