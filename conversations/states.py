"""States declared as objects, grouped per conversation (after aiogram's StatesGroup)."""
from __future__ import annotations


class State:
    """One named point of a conversation; its name is stored, never an integer."""

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, attr: str) -> None:
        self.name = f"{owner.__name__}:{attr}"

    def __repr__(self) -> str:
        return f"<State {self.name}>"


class StatesGroup:
    """A class whose State attributes are the states of one conversation."""

    @classmethod
    def all(cls) -> dict[str, State]:
        return {v.name: v for v in vars(cls).values() if isinstance(v, State)}

    @classmethod
    def get(cls, name: str | None) -> State | None:
        return cls.all().get(name) if name else None
