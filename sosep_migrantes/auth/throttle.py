"""Sign-in throttle (issue #10, item 2): a delay that grows with an account's failures, never a lock.

After :attr:`LoginThrottle.free_attempts` failures for an account within the window, each further failure
makes the next attempt for that account, from any address, wait ``base_delay * 2 ** (failures -
free_attempts)`` seconds, at most ``max_delay``: guessing slows to about one try a minute, and whoever
fails on purpose to keep someone out can only keep them ``max_delay`` seconds from their next try. A
success clears the account's count.

The counts live in the rate limiter's store (``limiter.storage``: Redis where configured, shared by every
worker and server), through the operations every store of the ``limits`` package has, each atomic:
``incr(key, expiry, amount)`` (which sets the expiry when it creates the key), ``get`` and ``clear``.

- ``<prefix>:a:<account>``: the account's failures in the window (expires ``window`` seconds after the
  first one); ``<prefix>:p:<account and address>``: the same for one address, for the record
  (:meth:`LoginThrottle.failures`).
- ``<prefix>:w:<account>:<n>``: written by the n-th failure when it brings a delay; its value is the time
  (milliseconds since the epoch) before which the account waits. The count's ``incr`` gives each failure
  its own n even when two servers record failures at the same moment, so the value is set in one
  ``incr`` on a key no one else writes, and the waiting attempts read the key of the current count.

Accounts and addresses appear in keys only as truncated HMAC-SHA-256 digests (keyed with ``secret``,
the application's secret key where given, so that a key seen in a log cannot be matched against a list
of user names).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from typing import Protocol


class CounterStore(Protocol):
    """What the throttle needs of a ``limits`` storage (MemoryStorage, RedisStorage...)."""

    def incr(self, key: str, expiry: int, amount: int = 1) -> int: ...

    def get(self, key: str) -> int: ...

    def clear(self, key: str) -> None: ...


# Hex digits kept of each digest: 96 bits, no collision between accounts in practice.
DIGEST_LENGTH = 24


class LoginThrottle:
    """Counts sign-in failures per account (and per account and address) and says how long to wait."""

    def __init__(
        self,
        storage: CounterStore,
        prefix: str = "login",
        *,
        free_attempts: int = 5,
        base_delay: int = 1,
        max_delay: int = 60,
        window: int = 15 * 60,
        secret: str | bytes = b"",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if free_attempts < 0 or base_delay < 1 or max_delay < base_delay or window < 1:
            raise ValueError("free_attempts >= 0, 1 <= base_delay <= max_delay and window >= 1 (seconds)")
        self.storage = storage
        self.prefix = prefix
        self.free_attempts = free_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.window = window
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._clock = clock

    def delay_after(self, failures: int) -> int:
        """Seconds the account waits after its ``failures``-th failure of the window (0 for the free ones)."""
        if failures <= self.free_attempts:
            return 0
        # base_delay * 2 ** doublings, the exponent bounded first: 2 ** 10,000 is a number too, but a big one.
        doublings = min(failures - self.free_attempts, self.max_delay.bit_length())
        return min(self.max_delay, self.base_delay << doublings)

    def wait_seconds(self, account: str, address: str) -> int:
        """0 when an attempt for ``account`` may be made now; else the seconds to wait (at most
        ``max_delay``). The wait is the account's, whatever the address: ``address`` is accepted for
        symmetry with :meth:`failed` and does not shorten it."""
        failures = self.storage.get(self._account_key(account))
        if failures <= self.free_attempts:
            return 0
        until_ms = self.storage.get(self._wait_key(account, failures))
        if not until_ms:
            return 0
        remaining = math.ceil((until_ms - self._now_ms()) / 1000)
        return max(0, min(self.max_delay, remaining))

    def failed(self, account: str, address: str) -> int:
        """Records a failure for the account and for the account at this address; returns the seconds the
        account now waits."""
        failures = self.storage.incr(self._account_key(account), self.window)
        self.storage.incr(self._pair_key(account, address), self.window)
        delay = self.delay_after(failures)
        if delay:
            key = self._wait_key(account, failures)
            # A key left by the same count before a success cleared the count: never added to.
            self.storage.clear(key)
            # The key outlives the wait by a second, so it is never gone before its time is read.
            self.storage.incr(key, delay + 1, amount=self._now_ms() + delay * 1000)
        return delay

    def succeeded(self, account: str, address: str) -> None:
        """A success ends the account's wait and clears its count and this address's."""
        self.storage.clear(self._account_key(account))
        self.storage.clear(self._pair_key(account, address))

    def failures(self, account: str, address: str) -> tuple[int, int]:
        """The account's failures in the window, and those from ``address``."""
        return self.storage.get(self._account_key(account)), self.storage.get(
            self._pair_key(account, address)
        )

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _digest(self, *parts: str) -> str:
        message = "\x00".join(parts).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:DIGEST_LENGTH]

    def _account_key(self, account: str) -> str:
        return f"{self.prefix}:a:{self._digest(_normal(account))}"

    def _pair_key(self, account: str, address: str) -> str:
        return f"{self.prefix}:p:{self._digest(_normal(account), address.strip())}"

    def _wait_key(self, account: str, failures: int) -> str:
        return f"{self.prefix}:w:{self._digest(_normal(account))}:{failures}"


def _normal(account: str) -> str:
    """'Reception1 ' and 'reception1' are one account."""
    return account.strip().casefold()
