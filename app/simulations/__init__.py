"""Simulation: a draft program replayed over past receipts by the pure engine and an in-memory model
(`model.py`, its accounts in `accounts.py`), on a JSONL file (`files.py`, `bonus-engine simulate --receipts`) or on
the confirmed receipts of a period in the database (`replay.py`, `parallel.py`), as a job (HTTP) or on the
command line; its result as data (`result.py`) and as the command prints it (`output.py`)."""
