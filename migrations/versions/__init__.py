"""Migrations; helpers they share."""


def statements(script: str) -> list[str]:
    """asyncpg prepares each statement and a prepared statement holds one command, so split the script
    (comments first: they may hold semicolons; no string literal here holds `--` or `;`)."""
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [statement.strip() for statement in code.split(";") if statement.strip()]
