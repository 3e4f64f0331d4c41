"""Group commit: concurrent messages share a commit, and none is answered before the commit that holds it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select, text

from storage.db import make_engine, make_sessionmaker
from storage.group_commit import GroupCommit
from storage.models import Account, Delegate, DelegateStatus, Post, Role, utcnow
from support import make_mail, reply_address, wait_until

SESSIONS = 8


def test_every_concurrent_reply_is_stored_when_its_250_arrives(gw, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    reader = make_engine(gw.settings.database_url)
    results: dict[int, tuple[int, bool]] = {}
    start = threading.Barrier(SESSIONS)

    def session(n: int) -> None:
        body = f"Concurrent reply number {n}"
        raw = make_mail(people.owner, address, "Re: survey", body)
        start.wait()
        code = gw.send(raw, people.owner, address).code
        with reader.connect() as conn:  # another connection: it sees only what was committed
            results[n] = (code, conn.scalar(select(func.count()).where(Post.body == body)) == 1)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader.dispose()
    assert results == {n: (250, True) for n in range(SESSIONS)}


@pytest.fixture
def storage(db_url):
    engine = make_engine(db_url)
    yield engine, make_sessionmaker(engine)
    engine.dispose()


def _add_account(n: int):
    def work(session):
        session.add(Account(email=f"person{n}@client.test", name=f"Person {n}", role=Role.CLIENT))
        session.flush()
        return n
    return work


def _stored(engine, everyone: bool = False) -> set[str]:
    """The accounts committed (those of the tests' units; with everyone, the slow unit's too)."""
    with engine.connect() as conn:
        return set(conn.scalars(select(Account.email))) - (set() if everyone else {"first@client.test"})


class SlowUnit:
    """Adds first@client.test, then holds its transaction open until let go."""

    def __init__(self):
        self.started, self.let_go = threading.Event(), threading.Event()

    def __call__(self, session):
        session.add(Account(email="first@client.test", name="First", role=Role.CLIENT))
        session.flush()
        self.started.set()
        self.let_go.wait(15)
        return "first"


def _run_behind_a_slow_first_unit(commits: GroupCommit, units: list) -> dict[int, object]:
    """The first unit holds its commit until every other unit waits, so that those share the next one."""
    results: dict[int, object] = {}
    first = SlowUnit()

    def call(n: int, work) -> None:
        try:
            results[n] = commits.run(work)
        except Exception as exc:  # noqa: BLE001 - what the caller got is the assertion
            results[n] = exc

    leader = threading.Thread(target=call, args=(-1, first))
    leader.start()
    assert first.started.wait(15)
    others = [threading.Thread(target=call, args=(n, work)) for n, work in enumerate(units)]
    for thread in others:
        thread.start()
    wait_until(lambda: commits.queued == len(units), what="every unit to wait for the commit")
    first.let_go.set()
    for thread in [leader, *others]:
        thread.join(30)
    return results


def test_waiting_units_share_one_commit(storage):
    engine, sessions = storage
    commits_made = []
    event.listen(engine, "commit", lambda conn: commits_made.append(1))
    results = _run_behind_a_slow_first_unit(GroupCommit(sessions), [_add_account(n) for n in range(6)])
    assert results == {-1: "first", **{n: n for n in range(6)}}
    assert len(commits_made) == 2
    assert _stored(engine) == {f"person{n}@client.test" for n in range(6)}


def test_a_failing_unit_is_rolled_back_alone(storage):
    engine, sessions = storage

    def fails(session):
        session.add(Account(email="half-written@client.test", name="Half", role=Role.CLIENT))
        session.flush()
        raise ValueError("a bug in this message's processing")

    results = _run_behind_a_slow_first_unit(GroupCommit(sessions), [_add_account(0), fails, _add_account(2)])
    assert isinstance(results[1], ValueError)
    assert (results[0], results[2]) == (0, 2)
    assert _stored(engine) == {"person0@client.test", "person2@client.test"}


def test_a_unit_breaking_a_unique_rule_is_rolled_back_alone(storage):
    engine, sessions = storage
    results = _run_behind_a_slow_first_unit(GroupCommit(sessions), [_add_account(0), _add_account(0), _add_account(1)])
    failed = [n for n, r in results.items() if isinstance(r, Exception)]
    assert len(failed) == 1 and failed[0] in (0, 1)
    assert _stored(engine) == {"person0@client.test", "person1@client.test"}


def test_a_failed_commit_fails_every_caller_of_its_batch_and_stores_none(db_url, storage):
    if not db_url.startswith("sqlite"):
        pytest.skip("the commit is made to fail by a foreign key SQLite checks at COMMIT")
    engine, sessions = storage

    def dangling(session):
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.add(Delegate(ticket_id=999_999, account_id=999_999, invited_by_id=999_999, invited_at=utcnow(),
                             status=DelegateStatus.INVITED,
                             expires_at=utcnow()))
        session.flush()
        return "dangling"

    results = _run_behind_a_slow_first_unit(GroupCommit(sessions), [_add_account(0), dangling, _add_account(2)])
    assert all(isinstance(results[n], Exception) for n in (0, 1, 2)), results
    assert _stored(engine) == set()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Delegate)) == 0


def test_on_postgresql_a_second_batch_commits_while_the_first_is_under_way(db_url, storage):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: one batch at a time")
    engine, sessions = storage
    commits = GroupCommit(sessions, slots=2)
    slow = SlowUnit()
    first_result: list[str] = []
    leader = threading.Thread(target=lambda: first_result.append(commits.run(slow)))
    leader.start()
    assert slow.started.wait(15)
    assert commits.run(_add_account(1)) == 1  # would wait for let_go with one slot
    assert _stored(engine) == {"person1@client.test"}
    slow.let_go.set()
    leader.join(30)
    assert first_result == ["first"] and _stored(engine, everyone=True) == {"person1@client.test", "first@client.test"}
