"""A token store for OAuth2 tokens that must survive restarts: rotating refresh tokens above all.

When an API rotates its refresh token on every use, the new one *must* be saved
before anything else happens, or the next refresh fails and a person has to
re-authorise the app. So the store:

- writes atomically (a temporary file in the same folder, ``fsync``, ``os.replace``),
  created with permissions ``0600`` from the start (never world-readable, not even briefly);
- serialises refreshes across processes with an exclusive ``flock`` on ``<file>.lock``
  and within a process with an ``asyncio.Lock``, so two workers never spend the same
  refresh token (a lost race is detected by re-reading the file under the lock);
- never prints its content: :class:`TokenSet` hides values in ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from doohickey.errors import SecretError

_LOCKS: dict[tuple[str, int], asyncio.Lock] = {}


@dataclass
class TokenSet:
    """Tokens as the token endpoint gave them; ``expires_at`` is a POSIX time (0: unknown)."""

    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: float = 0.0
    scope: str = ""
    token_type: str = "Bearer"
    generation: int = 0

    def valid_at(self, now: float, margin: float = 30.0) -> bool:
        """Whether the access token can still be used at ``now`` (with ``margin`` seconds to spare)."""
        return bool(self.access_token) and (self.expires_at == 0 or self.expires_at - margin > now)


class TokenStore:
    """Tokens of one Connection in one JSON file with mode 0600."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> TokenSet:
        """The stored tokens (an empty set when the file does not exist yet)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return TokenSet()
        except OSError as exc:
            raise SecretError(f"cannot read the token store {self.path}: {exc.strerror}") from None
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            raise SecretError(f"the token store {self.path} is readable by others (mode {mode:o}); "
                              f"run: chmod 600 {self.path}")
        try:
            data = json.loads(raw)
            return TokenSet(**{k: v for k, v in data.items() if k in TokenSet.__dataclass_fields__})
        except (ValueError, TypeError):
            raise SecretError(f"the token store {self.path} is not valid JSON; delete it and run "
                              f"`doohickey auth setup` again") from None

    def save(self, tokens: TokenSet) -> None:
        """Write ``tokens`` atomically with mode 0600 (the old file stays whole until the rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(tokens), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @contextlib.asynccontextmanager
    async def locked(self, timeout: float = 30.0) -> AsyncIterator[TokenSet]:
        """Hold the store exclusively (this process and others); yields the tokens as stored now."""
        loop = asyncio.get_running_loop()
        key = (str(self.path.resolve()), id(loop))
        lock = _LOCKS.setdefault(key, asyncio.Lock())
        async with lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                waited = 0.0
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if waited >= timeout:
                            raise SecretError(f"another process holds the token store {self.path} for over "
                                              f"{timeout:.0f} s") from None
                        await asyncio.sleep(0.02)
                        waited += 0.02
                yield self.load()
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
