"""A complete report checked against BR-2, shared by the chat intake and staff entry (代录, BR-1)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.classify import Rules, classify
from conversations.extract import building_of, infer_area, normalize_location, normalize_phone, parse_location_answer
from dispatch.statuses import AREAS, CATEGORIES, TRADES
from dispatch.tickets import NewTicket


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str   # missing | invalid


def build_report(fields: dict, rules: Rules, *, channel: str, reporter_channel: str = "", reporter_chat: str = "",
                 reporter_user: str = "", photo_ids: tuple[int, ...] = (),
                 recording_ids: tuple[int, ...] = (), visit_at: datetime | None = None,
                 property: str = "default") -> tuple[NewTicket | None, list[FieldError]]:
    """Validate the fields; classify what the caller left out (BR-5 category, BR-8 trade)."""
    errors: list[FieldError] = []
    description = (fields.get("description") or "").strip()
    location_raw = (fields.get("location") or "").strip()
    name = (fields.get("reporter_name") or fields.get("name") or "").strip()
    phone = normalize_phone(str(fields.get("phone") or ""))
    location = parse_location_answer(location_raw) if location_raw else None
    area = fields.get("area") or (infer_area(location, description) if location else None)
    for key, value in (("description", description), ("location", location_raw), ("reporter_name", name),
                       ("phone", fields.get("phone"))):
        if not value:
            errors.append(FieldError(key, "missing"))
    if location_raw and not location:
        errors.append(FieldError("location", "invalid"))
    if fields.get("phone") and not phone:
        errors.append(FieldError("phone", "invalid"))
    if area is None and location:
        errors.append(FieldError("area", "missing"))
    elif area is not None and area not in AREAS:
        errors.append(FieldError("area", "invalid"))
    if len(description) > 1000:
        errors.append(FieldError("description", "invalid"))
    if len(name) > 32:
        errors.append(FieldError("reporter_name", "invalid"))
    auto = classify(description, rules, location or "")
    category = fields.get("category") or auto.category
    trade = fields.get("trade") or auto.trade
    if category not in CATEGORIES:
        errors.append(FieldError("category", "invalid"))
    if trade not in TRADES:
        errors.append(FieldError("trade", "invalid"))
    if errors:
        return None, errors
    return NewTicket(
        area=area, location=location, location_key=normalize_location(location),
        building=building_of(location), reporter_name=name,
        phone=phone, description=description, category=category, trade=trade, channel=channel,
        reporter_channel=reporter_channel, reporter_chat=reporter_chat, reporter_user=reporter_user,
        visit_text=(fields.get("visit_text") or "") if area == "unit" else "",
        visit_at=visit_at if area == "unit" else None, photo_ids=tuple(photo_ids),
        recording_ids=tuple(recording_ids), property=property,
    ), []
