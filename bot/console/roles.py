"""What each role sees in the console; what each may DO is dispatch/permissions.py's table, not this one."""
from __future__ import annotations

from dispatch.permissions import ROLES
from bot.console.staff import User

DUTY_DESK = frozenset({"desk", "control", "housekeeper"})          # BR-3: whoever holds the desk
OVERSIGHT = frozenset({"supervisor", "manager", "director", "leadership"})

# Every ticket, not only one's own jobs: everyone but a technician (who sees the tickets they hold).
ALL_TICKETS = frozenset(ROLES) - {"technician"}
# Quotes, fees and waivers on a ticket (a technician sees those of the jobs they hold).
FEES = frozenset({"finance", "housekeeper"}) | OVERSIGHT            # BR-13 the housekeeper settles a dispute
# The finance pages: the fee list and the finance report (BR-14, BR-29).
FINANCE = frozenset({"finance", "manager", "director", "leadership"})
# The weekly and monthly reports (BR-28: for the director and the managers; supervisors run their trades by them).
REPORTS = OVERSIGHT
# Staff entry of a report taken by phone (代录, BR-1).
ENTRY = DUTY_DESK | {"supervisor", "manager"}
# Messages that did not get through, to call instead, and their re-drive.
UNDELIVERED = DUTY_DESK | OVERSIGHT
# A resident's full phone number: those who call them (BR-11 the technician on the job, the desk that checks
# and follows up, the trade's supervisor who assigns). Everyone else reads 138****5678.
CALLERS = DUTY_DESK | {"supervisor"}
# The follow-up calls (回访, BR-25): the desk makes them, those above see the coverage.
FOLLOWUPS = DUTY_DESK | OVERSIGHT
# Who holds the desk and the working calendar behind it (BR-3): everyone who sees every ticket reads it;
# those who run the service correct a day.
DUTY = ALL_TICKETS
CALENDAR = OVERSIGHT


def sees_all(user: User) -> bool:
    return user.role in ALL_TICKETS


def may_see(user: User, assignee_id: int | None) -> bool:
    """A ticket: every ticket for the roles that oversee them, a technician's own jobs only."""
    return sees_all(user) or (assignee_id is not None and assignee_id == user.id)


def sees_fees(user: User, assignee_id: int | None) -> bool:
    return user.role in FEES or (assignee_id is not None and assignee_id == user.id)


def sees_phone(user: User, assignee_id: int | None) -> bool:
    return user.role in CALLERS or (assignee_id is not None and assignee_id == user.id)


def pages(user: User) -> dict[str, bool]:
    """Which pages the navigation offers this user (each page checks again)."""
    return {"entry": user.role in ENTRY, "undelivered": user.role in UNDELIVERED, "fees": user.role in FINANCE,
            "followups": user.role in FOLLOWUPS, "duty": user.role in DUTY,
            "reports": user.role in REPORTS or user.role in FINANCE}
