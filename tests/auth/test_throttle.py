"""Sign-in throttle (issue #10, item 2): auth.throttle.LoginThrottle on the ``limits`` stores.

Pure: no application. Each test runs on the in-memory store and on Redis (127.0.0.1:6379, as CI has it;
the Redis runs are skipped, saying so, only when nothing answers there). A fake clock moves time on; the
stores' own expiry (real time) only collects keys after their use.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from limits.storage import MemoryStorage, RedisStorage, storage_from_string

from sosep_migrantes.auth.throttle import LoginThrottle

REDIS_URL = "redis://127.0.0.1:6379"
ACCOUNT = "reception1"
HERE, THERE = "10.0.0.7", "192.0.2.44"


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(
    not _redis_answers(), reason=f"no Redis answers at {REDIS_URL} (CI's .ci/system-deps starts one)"
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.25

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _redis_keys(prefix: str) -> list[str]:
    client = redis.Redis(host="127.0.0.1", port=6379)
    return sorted(key.decode() for key in client.scan_iter(match=f"*{prefix}*"))


def _drop_redis_keys(prefix: str) -> None:
    client = redis.Redis(host="127.0.0.1", port=6379)
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def storage(request) -> Iterator[MemoryStorage | RedisStorage]:
    store = storage_from_string("memory://" if request.param == "memory" else REDIS_URL)
    assert isinstance(store, MemoryStorage | RedisStorage)
    yield store


@pytest.fixture
def prefix() -> Iterator[str]:
    """Keys of this test only (Redis is shared with other runs), removed afterwards."""
    value = f"test-throttle-{uuid.uuid4().hex[:12]}"
    yield value
    if _redis_answers():
        _drop_redis_keys(value)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(storage, prefix, clock) -> LoginThrottle:
    return LoginThrottle(storage, prefix, clock=clock)


def _fail(throttle: LoginThrottle, times: int, address: str = HERE, account: str = ACCOUNT) -> None:
    for _ in range(times):
        throttle.failed(account, address)


def test_five_failures_are_free_then_the_wait_doubles_up_to_a_minute(throttle, clock):
    _fail(throttle, 5)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 0
    waits = []
    for _ in range(8):
        throttle.failed(ACCOUNT, HERE)
        waits.append(throttle.wait_seconds(ACCOUNT, HERE))
        clock.advance(waits[-1])  # the user waits as told, then tries (and fails) again
        assert throttle.wait_seconds(ACCOUNT, HERE) == 0
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
    assert [throttle.delay_after(n) for n in range(1, 15)] == [0] * 5 + [2, 4, 8, 16, 32, 60, 60, 60, 60]


def test_a_wrong_password_from_one_address_makes_every_address_wait_no_more_than_the_maximum(throttle, clock):
    _fail(throttle, 6, address=HERE)
    assert throttle.wait_seconds(ACCOUNT, THERE) == 2  # the real user, elsewhere, waits too...
    _fail(throttle, 50, address=HERE)  # ...however many failures someone else piles up...
    assert 0 < throttle.wait_seconds(ACCOUNT, THERE) <= 60
    clock.advance(60)
    assert throttle.wait_seconds(ACCOUNT, THERE) == 0  # ...a minute at most, never locked out
    assert throttle.wait_seconds("someone.else", HERE) == 0  # other accounts are not slowed
    assert throttle.failures(ACCOUNT, HERE) == (56, 56)
    assert throttle.failures(ACCOUNT, THERE) == (56, 0)


def test_the_wait_counts_down(throttle, clock):
    _fail(throttle, 9)  # the 9th failure: 16 s
    assert throttle.wait_seconds(ACCOUNT, HERE) == 16
    clock.advance(5.5)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 11
    clock.advance(10.4)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 1
    clock.advance(0.1)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 0


def test_a_success_resets_the_account(throttle, clock):
    _fail(throttle, 7, address=THERE)
    _fail(throttle, 1, address=HERE)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 8
    clock.advance(8)
    throttle.succeeded(ACCOUNT, HERE)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 0
    assert throttle.failures(ACCOUNT, HERE) == (0, 0)
    assert throttle.failures(ACCOUNT, THERE) == (0, 7)  # the other address's record stays
    # Counting starts again: five free failures, then the first delay, not what was left before.
    _fail(throttle, 5)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 0
    throttle.failed(ACCOUNT, HERE)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 2


def test_the_account_is_one_whatever_its_case_or_spaces(throttle):
    _fail(throttle, 3, account="Reception1")
    _fail(throttle, 3, account=" reception1 ")
    assert throttle.wait_seconds(ACCOUNT, HERE) == 2


def test_failures_are_forgotten_after_the_window(storage, prefix):
    throttle = LoginThrottle(storage, prefix, window=1)
    _fail(throttle, 6)
    assert throttle.failures(ACCOUNT, HERE) == (6, 6)
    time.sleep(1.5)  # the stores' own clock
    assert throttle.failures(ACCOUNT, HERE) == (0, 0)
    assert throttle.wait_seconds(ACCOUNT, HERE) == 0


def test_settings_are_checked():
    store = MemoryStorage()
    for wrong in ({"base_delay": 0}, {"max_delay": 0}, {"free_attempts": -1}, {"window": 0}):
        with pytest.raises(ValueError, match="base_delay"):
            LoginThrottle(store, **wrong)
    custom = LoginThrottle(store, free_attempts=2, base_delay=3, max_delay=20)
    assert [custom.delay_after(n) for n in range(1, 7)] == [0, 0, 6, 12, 20, 20]


def test_user_names_and_addresses_never_appear_in_keys_memory(prefix):
    store = MemoryStorage()
    throttle = LoginThrottle(store, prefix, secret="app secret")
    _fail(throttle, 7)
    keys = list(store.storage)
    assert len(keys) == 4  # the account's count, the address's, the 6th and 7th failures' waits
    assert all(key.startswith(f"{prefix}:") for key in keys)
    assert not any(ACCOUNT in key or HERE in key or "10.0.0" in key for key in keys)


@needs_redis
def test_user_names_and_addresses_never_appear_in_keys_redis(prefix):
    throttle = LoginThrottle(storage_from_string(REDIS_URL), prefix, secret="app secret")
    _fail(throttle, 7)
    keys = _redis_keys(prefix)
    assert len(keys) == 4, keys
    assert not any(ACCOUNT in key or HERE in key or "10.0.0" in key for key in keys)
    # The digest is keyed: the same account under another secret has other keys.
    plain = LoginThrottle(storage_from_string(REDIS_URL), prefix)
    plain.failed(ACCOUNT, HERE)
    assert len(_redis_keys(prefix)) == 6


def _fail_in_a_process(prefix: str, account: str, times: int, start) -> None:
    """A worker of its own (another gunicorn worker or server): its own store and connection."""
    throttle = LoginThrottle(storage_from_string(REDIS_URL), prefix)
    start.wait(timeout=30)
    for _ in range(times):
        throttle.failed(account, f"198.51.100.{times}")


@needs_redis
def test_failures_from_two_processes_are_counted_together_on_redis(prefix):
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_fail_in_a_process, args=(prefix, ACCOUNT, times, start)) for times in (20, 30)
    ]
    for worker in workers:
        worker.start()
    start.set()  # both at once: the store's atomic incr, not a read-then-write, keeps the count
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    throttle = LoginThrottle(storage_from_string(REDIS_URL), prefix)
    assert throttle.failures(ACCOUNT, "198.51.100.20") == (50, 20)
    assert throttle.failures(ACCOUNT, "198.51.100.30") == (50, 30)
    # The 50th failure, whichever process made it, set the current wait: the maximum, from any address.
    assert 59 <= throttle.wait_seconds(ACCOUNT, THERE) <= 60
    throttle.succeeded(ACCOUNT, THERE)
    assert throttle.wait_seconds(ACCOUNT, "198.51.100.20") == 0
