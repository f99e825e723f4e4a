"""`RedisCheckpoint`: the checkpoint store that consumers on several processes or machines
share, through redis-py (the optional extra ``pip install "mds-client[redis]"``), imported when
a store is made."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from mds.checkpoint._store import Claim, OwnerToken, check_uids
from mds.exceptions import ApiValueError, CheckpointError

__all__ = ["RedisCheckpoint", "redact_url"]

#: KEYS: the uids' keys; ARGV: owner, claim ttl in ms. One answer per key, atomically: a key
#: nobody holds becomes ours (NEW); "done" is DONE; our own claim is renewed (NEW); another
#: owner's claim is BUSY.
_CLAIM = """
local answers = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    answers[i] = 'new'
  else
    local value = redis.call('GET', key)
    if value == 'done' then
      answers[i] = 'done'
    elseif value == ARGV[1] then
      redis.call('PEXPIRE', key, ARGV[2])
      answers[i] = 'new'
    else
      answers[i] = 'busy'
    end
  end
end
return answers
"""

#: KEYS: the uids' keys; ARGV: owner. Deletes only the keys this owner holds.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
  end
end
return 0
"""


def _password_of(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        return None


def redact_url(url: str) -> str:
    """*url* with its password (if any) replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisCheckpoint:
    """A checkpoint store in Redis, for consumers spread over processes or machines.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://...`` (TLS), as
            redis-py's ``Redis.from_url`` reads it.
        prefix: the start of every key this store writes (one key per uid).
        claim_ttl: seconds a claim holds (Redis expires it: a consumer that crashed while
            handling a uid leaves it NEW again after that).
        keep: seconds a finished uid is remembered.
        timeout: seconds to wait for Redis (connect and each command) before failing.

    ``claim`` is one Lua script over all the uids (atomic: of two workers claiming a uid, one
    gets NEW); ``finish`` one pipeline of ``SET key done PX keep``; ``release`` one script that
    deletes only this store's own claims. The owner of the claims is a random token per store
    (and per process, after a fork). Keys of one call may hash to different slots: use a
    single Redis (or one shard), not a cluster. Errors raise `mds.exceptions.CheckpointError`,
    whose message and ``repr`` never show the URL's password.

    Raises ImportError (naming the extra to install) when redis-py is missing.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "mds:checkpoint:",
        claim_ttl: float = 60.0,
        keep: float = 7 * 86400.0,
        timeout: float = 5.0,
    ) -> None:
        if not claim_ttl > 0 or not keep > 0 or not timeout > 0:
            raise ApiValueError("claim_ttl, keep and timeout must be positive")
        try:
            import redis
        except ImportError:
            raise ImportError(
                'RedisCheckpoint needs redis-py: pip install "mds-client[redis]"'
            ) from None
        self._shown_url = redact_url(url)
        self._password = _password_of(url)
        self.prefix = prefix
        self.claim_ttl = float(claim_ttl)
        self.keep = float(keep)
        self._owner = OwnerToken()
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        try:
            self._redis: Any = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except (ValueError, redis.RedisError) as exc:
            raise CheckpointError(self._describe(exc)) from None
        self._claim = self._redis.register_script(_CLAIM)
        self._release = self._redis.register_script(_RELEASE)
        self._closed = False

    def __repr__(self) -> str:
        return f"<RedisCheckpoint {self._shown_url!r} prefix={self.prefix!r}>"

    def _describe(self, exc: BaseException) -> str:
        text = f"checkpoint {self._shown_url} failed: {type(exc).__name__}: {exc}"
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise CheckpointError(f"{self!r} is closed")
        try:
            return function(*args, **kwargs)
        except self._errors as exc:
            raise CheckpointError(self._describe(exc)) from exc

    def claim(self, uids: Sequence[str]) -> list[Claim]:
        """One `Claim` per uid, in order (see `CheckpointStore`)."""
        values = check_uids(uids)
        if not values:
            return []
        keys = [self.prefix + uid for uid in values]
        ttl_ms = max(1, int(self.claim_ttl * 1000))
        answers = self._call(self._claim, keys=keys, args=[self._owner.value, ttl_ms])
        return [Claim(a.decode() if isinstance(a, bytes) else a) for a in answers]

    def finish(self, uids: Sequence[str]) -> None:
        """Record *uids* as done, for ``keep`` seconds."""
        values = check_uids(uids)
        if not values:
            return

        def run() -> None:
            pipe = self._redis.pipeline(transaction=False)
            keep_ms = max(1, int(self.keep * 1000))
            for uid in values:
                pipe.set(self.prefix + uid, "done", px=keep_ms)
            pipe.execute()

        self._call(run)

    def release(self, uids: Sequence[str]) -> None:
        """Drop this store's claims on *uids* (claims of others, and finished uids, stay)."""
        values = check_uids(uids)
        if values:
            self._call(self._release, keys=[self.prefix + u for u in values],
                       args=[self._owner.value])

    def close(self) -> None:
        """Close the connections; idempotent. Later calls raise `CheckpointError`."""
        if not self._closed:
            self._closed = True
            self._redis.close()

    def __enter__(self) -> RedisCheckpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
