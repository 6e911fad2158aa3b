"""README's status diagram is the code's transition table (dispatch/lifecycle.py), not a drawing of it."""
from __future__ import annotations

import re
from pathlib import Path

from dispatch import lifecycle, statuses

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_diagram_is_the_transition_table():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- lifecycle:begin -->\n```mermaid\n(.*?)\n```\n<!-- lifecycle:end -->", text, re.S)
    assert m, "README.md lost its lifecycle diagram markers"
    assert m.group(1) == lifecycle.mermaid(), "regenerate the README diagram from dispatch.lifecycle.mermaid()"


def test_every_edge_of_the_diagram_is_allowed_by_the_table_and_no_other():
    drawn = set()
    for line in lifecycle.mermaid().splitlines()[3:]:
        m = re.fullmatch(r"    (\w+) --> (\w+): (.+)", line)
        if m:
            drawn |= {(m.group(1), m.group(2), a) for a in m.group(3).split(", ")}
    for source, dest, action in drawn:
        assert lifecycle.allowed(action, source)
        assert lifecycle.target(action, source, held_from=dest) == dest
    expected = {(s, lifecycle.target(a, s, held_from=h), a)
                for a, (sources, to) in lifecycle.TRANSITIONS.items() if to != lifecycle.SAME
                for s in sources for h in ((lifecycle.TRANSITIONS["hold"][0]) if to == lifecycle.BACK else ("",))}
    assert drawn == expected


def test_every_status_is_reachable_and_only_closed_and_cancelled_end():
    reached = {statuses.SUBMITTED, statuses.DISPATCHED}
    frontier = list(reached)
    while frontier:
        s = frontier.pop()
        for action, (sources, _) in lifecycle.TRANSITIONS.items():
            if s in sources:
                for h in lifecycle.TRANSITIONS["hold"][0]:
                    t = lifecycle.target(action, s, held_from=h)
                    if t not in reached:
                        reached.add(t)
                        frontier.append(t)
    assert reached == set(statuses.ALL)
    leaving = {s for _, (sources, to) in lifecycle.TRANSITIONS.items() if to != lifecycle.SAME for s in sources}
    assert set(statuses.ALL) - leaving == {statuses.CLOSED, statuses.CANCELLED}


def test_a_paid_ticket_cannot_be_completed_before_agreement():
    """BR-13: the table itself has no edge from quoted or rejected to completed."""
    assert not lifecycle.allowed("complete", statuses.QUOTED)
    assert not lifecycle.allowed("complete", statuses.REJECTED)
    assert not lifecycle.allowed("complete", statuses.ACCEPTED)   # not without arrival
