"""Simulation on stored receipts: a draft program replayed over the confirmed receipts of a period, from the
database, by the pure engine and `app.simulate`'s in-memory model; as a job (HTTP), or on the command line."""
