"""What an incremental stage recomputes: a scope (its keys in a temporary table), or why it rebuilds whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    incremental: bool
    reason: str  # why whole, or what the scope holds
    size: int = 0  # keys recomputed when incremental (contact points for golden, parties for permissions)

    @classmethod
    def whole(cls, reason: str) -> Scope:
        return cls(False, reason)
