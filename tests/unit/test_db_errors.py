"""Which database errors are a 503 (retry later) and which a bug, and what the answer says."""

from __future__ import annotations

import asyncpg

from app.core.db import _detail, _unusable, is_connection_error, node_unreachable
from app.core.errors import unavailable


def test_a_worker_node_the_coordinator_cannot_reach_is_a_503_over_a_link_that_still_works() -> None:
    error = asyncpg.exceptions.ConnectionFailureError("connection to the remote node postgres@10.0.0.2:5432 failed")
    assert is_connection_error(error)
    assert not _unusable(error)  # the coordinator answered: the connection rolls back and is used again
    assert node_unreachable(error)
    assert _detail(error) == "a database node is unreachable"
    answer = unavailable("database_unavailable", _detail(error))
    answer.__cause__ = error
    assert node_unreachable(answer)  # the committer sees it through the 503 it became


def test_a_worker_node_gone_in_the_middle_of_a_transaction_is_a_node_down_too() -> None:
    error = asyncpg.exceptions.InternalServerError("server closed the connection unexpectedly\n\tThis probably means")
    assert is_connection_error(error) and node_unreachable(error) and not _unusable(error)
    for lost in (asyncpg.exceptions.InternalServerError("failure on connection marked as essential: 10.0.0.2:5432"),
                 asyncpg.exceptions.PostgresIOError("failed to COPY to shard 103666 on 10.0.0.2:5432"),
                 asyncpg.exceptions.InternalServerError("could not commit transaction for shard 102910 on at least "
                                                        "one active node")):
        assert is_connection_error(lost) and node_unreachable(lost)
    assert not is_connection_error(asyncpg.exceptions.InternalServerError("cache lookup failed for type 0"))


def test_a_lost_link_or_a_timeout_is_a_503_and_not_a_node_down() -> None:
    for error, detail in ((asyncpg.exceptions.ConnectionDoesNotExistError("closed"),
                           "the connection to PostgreSQL was lost"),
                          (ConnectionResetError(), "the connection to PostgreSQL was lost"),
                          (asyncpg.exceptions.QueryCanceledError("statement timeout"),
                           "PostgreSQL did not answer in time")):
        assert is_connection_error(error)
        assert not node_unreachable(error)
        assert _detail(error) == detail


def test_other_database_errors_are_not_retried_as_outages() -> None:
    for error in (asyncpg.exceptions.UniqueViolationError("duplicate"),
                  asyncpg.exceptions.FeatureNotSupportedError("could not run distributed query")):
        assert not is_connection_error(error)
        assert not node_unreachable(error)


def test_a_protocol_left_half_way_by_a_lost_server_is_an_unusable_link() -> None:
    """A pooled connection whose last operation a restarting server cut answers the next one so (seen on BEGIN
    with a Citus coordinator restarted under load): a 503, and the connection is closed, not reused."""
    error = asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2) is in progress")
    assert is_connection_error(error) and _unusable(error)
    assert not node_unreachable(error)
