"""How many password checks an account and a client address get: the login throttle."""

from __future__ import annotations

import time
from collections.abc import Callable

from node.errors import Throttled


class LoginThrottle:
    """Password checks per account and per client address, in a sliding window.

    Every attempt is recorded **before** its password is checked (scrypt takes a while), so
    concurrent guesses cannot slip past the limit together; a good password then takes its
    own attempt back and clears the account's record.

    * **Per account** (an email): after ``per_account`` failures in the window, each further
      attempt must wait, doubling from 1 s (1, 2, 4 ... s, at most the window) after the last
      failure: back-off, not a lock, and attempts refused while waiting do not count.
    * **Per address** (the client's address, as seen through trusted proxies): at most
      ``per_address`` failures in the window, across accounts, against password spraying.
      One address's failures never hold back another address, nor an account's good login
      from elsewhere.

    Refusals answer 429 with Retry-After. Memory is bounded (``max_keys``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, window_s: float = 900.0,
                 per_account: int = 5, per_address: int = 30, max_keys: int = 100_000) -> None:  # fmt: skip
        self.clock = clock
        self.window_s = window_s
        self.per_account = per_account
        self.per_address = per_address
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = self._failures.get(key)
        if times is None:
            return []
        cutoff = now - self.window_s
        if times and times[0] <= cutoff:
            times[:] = [t for t in times if t > cutoff]
        if not times:
            del self._failures[key]
        return times

    def _wait(self, account: str, address: str, now: float, known_device: bool) -> float:
        """Seconds until an attempt for ``account`` from ``address`` may be checked (0: now)."""
        waits = [0.0]
        recent = self._recent(("account", account), now)
        if len(recent) >= self.per_account:
            delay = min(self.window_s, 2.0 ** (len(recent) - self.per_account))
            waits.append(recent[-1] + delay - now)
        by_address = self._recent(("address", address), now)
        if len(by_address) >= self.per_address and not known_device:
            waits.append(by_address[len(by_address) - self.per_address] + self.window_s - now)
        return max(waits)

    def attempt(self, account: str, address: str, known_device: bool = False) -> float:
        """Record an attempt before its password is checked; raises Throttled when one must
        wait. Returns the attempt's mark, for :meth:`succeeded`.

        ``known_device``: the browser showed a device cookie this account signed in with
        before (OWASP's "device cookies"): the address's limit does not hold it back, nor does
        its failure count against the address (a member behind the same NAT as a guesser
        still gets in), while the account's own limit holds as for anyone."""
        account = account.strip().lower()
        now = self.clock()
        wait = self._wait(account, address, now, known_device)
        if wait > 0:
            raise Throttled("too many failed attempts; try again later", retry_after=max(1, int(wait + 0.999)))
        if len(self._failures) >= self.max_keys:
            self._failures.clear()  # bounded memory under a flood; limits restart
        keys = [("account", account)] if known_device else [("account", account), ("address", address)]
        for key in keys:
            self._failures.setdefault(key, []).append(now)
        return now

    def succeeded(self, account: str, address: str, mark: float) -> None:
        """The password was right: forget the account's failures and this attempt."""
        self._failures.pop(("account", account.strip().lower()), None)
        times = self._failures.get(("address", address))
        if times is not None and mark in times:
            times.remove(mark)


class SigningThrottle:
    """How many envelopes one member's requests may have the node sign: at most ``per_hour``
    in any hour and ``per_day`` in any day (sliding windows). An officer, or a stolen officer
    token, signing rolls in a loop once spent the node's whole daily quota in 26 s; now it
    spends this member's share and waits (429, Retry-After). Kinds that must never wait
    (closing a ballot, a mandate: :data:`node.federation.own_log.ESSENTIAL`) are not counted.
    Memory: one timestamp per signature in the day, per member who signed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, per_hour: int = 60, per_day: int = 400
                 ) -> None:  # fmt: skip
        self.clock = clock
        self.per_hour = per_hour
        self.per_day = per_day
        self._signed: dict[int, list[float]] = {}

    def take(self, member: int) -> None:
        """Count one signature for ``member``, or raise Throttled saying how long to wait."""
        now = self.clock()
        times = self._signed.setdefault(member, [])
        if times and times[0] <= now - 86_400:
            times[:] = [t for t in times if t > now - 86_400]
        waits = [0.0]
        if len(times) >= self.per_day:
            waits.append(times[len(times) - self.per_day] + 86_400 - now)
        in_hour = [t for t in times if t > now - 3_600]
        if len(in_hour) >= self.per_hour:
            waits.append(in_hour[len(in_hour) - self.per_hour] + 3_600 - now)
        wait = max(waits)
        if wait > 0:
            raise Throttled(f"you have had the node sign {len(in_hour)} things in the last hour and {len(times)} today;"
                            " that is this node's limit per member: try again later",
                            retry_after=max(1, int(wait + 0.999)))  # fmt: skip
        times.append(now)
