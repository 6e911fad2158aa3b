"""The staff actions the ticket page offers as forms, and each form's fields read into the action's body
(contract.md "Lifecycle"); the domain (dispatch/job.py) checks the body, as it does a REST call's."""
from __future__ import annotations

from typing import Any, Mapping

from bot.console.staff import User
from dispatch import lifecycle, permissions
from store.models import Ticket

# action → the form's fields, in the order the page shows the forms. 接单 stays on the cards (a technician's
# console shows the jobs they already hold); 已知晓 answers an alert message, not a page.
FORMS: dict[str, tuple[str, ...]] = {
    "reassign": ("to",),
    "verify": ("passed", "note"),
    "waive_approve": ("note",),
    "waive_reject": ("note",),
    "arrive": (),
    "reschedule": ("visit_text",),
    "quote": ("prices", "items", "note"),
    "hold": ("reason", "until"),
    "resume": (),
    "complete": ("materials", "minutes", "note"),
    "waive": ("amount", "payer", "reason"),
    "transfer": ("to",),
    "decline": ("reason",),
    "cancel": ("reason",),
}


def offered(user: User, t: Ticket) -> list[str]:
    """The actions this user may take on this ticket now: the role × action table, the transition table, and
    what the ticket itself needs (a pending waiver to decide, a unit job to quote)."""
    out = []
    waiver = t.waiver or {}
    for action in FORMS:
        if permissions.refusal(user.role, action, trades=list(user.trades), ticket_trade=t.trade,
                               is_assignee=t.assignee_id == user.id) is not None:
            continue
        if not lifecycle.allowed(action, t.status):
            continue
        if action in ("waive_approve", "waive_reject") and (waiver.get("status") != "pending"
                                                            or waiver.get("approver") != user.role):
            continue
        if action == "waive" and waiver.get("status") == "pending":
            continue
        if action == "quote" and (t.area != "unit" or t.warranty_of):
            continue
        if action == "decline" and t.assignee_id not in (None, user.id):
            continue
        if action == "transfer" and t.assignee_id is None:
            continue   # before anyone holds it, 转派 only asks the supervisors: the cards' business
        out.append(action)
    return out


def body_of(action: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The action's body from the posted form. Values the domain must judge (an amount, a time) pass as typed,
    so a wrong one is refused by the same check as over the API, naming its field."""
    fields = FORMS.get(action, ())
    body: dict[str, Any] = {}
    for name in ("to", "reason", "note", "visit_text", "until", "amount", "payer"):
        if name in fields and str(form.get(name, "")).strip():
            body[name] = str(form[name]).strip()
    if "passed" in fields:
        body["passed"] = form.get("passed", "1") != "0"
    if "minutes" in fields and str(form.get("minutes", "")).strip():
        raw = str(form["minutes"]).strip()
        body["minutes"] = int(raw) if raw.isdigit() and len(raw) < 7 else raw
    if "items" in fields:
        items = [{"key": str(k)} for k in _all(form, "prices") if str(k)]
        items += [_line(line, "amount") for line in _lines(form.get("items"))]
        body["items"] = items
    if "materials" in fields:
        body["materials"] = [_line(line, "qty") for line in _lines(form.get("materials"))]
    return body


def _all(form: Mapping[str, Any], name: str) -> list[Any]:
    getall = getattr(form, "getall", None)
    return list(getall(name, [])) if getall else ([form[name]] if name in form else [])


def _lines(value: Any) -> list[str]:
    text = str(value or "").replace("\u3000", " ")   # an ideographic space separates as well
    return [line.strip() for line in text.splitlines() if line.strip()][:50]


def _line(line: str, number: str) -> dict[str, Any]:
    """「更换角阀 30」→ {"name": "更换角阀", number: "30"}; a quantity without a number is 1."""
    name, _, tail = line.rpartition(" ")
    if not name.strip():
        return {"name": line} if number == "qty" else {"name": line, number: None}
    tail = tail.strip()
    if number == "qty":
        try:
            qty: Any = int(tail) if tail.isdigit() else float(tail)
        except ValueError:
            return {"name": line}
        return {"name": name.strip(), "qty": qty}
    return {"name": name.strip(), number: tail}
