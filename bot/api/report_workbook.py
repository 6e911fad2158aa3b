"""A report as an XLSX workbook: the summary sheet and the two registers (BR-28, BR-29), written with openpyxl
in write-only mode from rows streamed out of the database, so 100,000 tickets never sit in memory at once.

Words and headers come from templates/reports/columns.toml; openpyxl's work runs in a thread, a batch at a
time, so the event loop keeps serving while a large period is written.
"""
from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from typing import IO, Any, Callable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.registers import register_rows
from dispatch.reports import CLOCKS, SCORES, Period
from templates.texts import Texts, mask_phone

REGISTERS = ("public", "unit")
DATE_FORMAT = "yyyy-mm-dd hh:mm"
PERCENT = "0.0%"
MONEY = "#,##0.00"


@cache
def layout() -> dict[str, Any]:
    """templates/reports/columns.toml, read once."""
    return tomllib.loads((files("templates") / "reports" / "columns.toml").read_text(encoding="utf-8"))


def _local(value: datetime | None, tz: tzinfo) -> datetime | None:
    """Excel keeps no time zone: the service's local time, to the second."""
    return value.astimezone(tz).replace(tzinfo=None, microsecond=0) if value else None


def _minutes(later: datetime | None, earlier: datetime | None) -> float | None:
    return round((later - earlier).total_seconds() / 60, 1) if later and earlier else None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


class _Register:
    """One register sheet: its columns' values for a ticket row, and the running totals."""

    def __init__(self, ws, key: str, texts: Texts, tz: tzinfo) -> None:
        self.ws, self.texts, self.tz = ws, texts, tz
        self.columns = layout()[key]
        self.rows = 0
        self.fee = Decimal("0")
        self.waived = Decimal("0")

    def values(self, r: Any) -> list[Any]:
        """The row's cells, in the register's column order."""
        words, texts, tz = layout(), self.texts, self.tz
        waiver = r.waiver or {}
        approved = waiver.get("status") == "approved"
        getters: dict[str, Callable[[], Any]] = {
            "seq": lambda: self.rows,
            "number": lambda: r.number,
            "created_at": lambda: _local(r.created_at, tz),
            "building": lambda: r.building,
            "location": lambda: r.location,
            "description": lambda: r.description,
            "reporter_name": lambda: r.reporter_name,
            "phone": lambda: mask_phone(r.phone),      # a register is passed round: no full number in it
            "channel": lambda: texts.label("channel", r.channel),
            "category": lambda: texts.label("category", r.category),
            "trade": lambda: texts.label("trade", r.trade),
            "assignee": lambda: r.assignee or "",
            "accepted_at": lambda: _local(r.accepted_at, tz),
            "arrived_at": lambda: _local(r.arrived_at, tz),
            "completed_at": lambda: _local(r.completed_at, tz),
            "respond_minutes": lambda: _minutes(r.accepted_at or r.arrived_at or r.completed_at, r.created_at),
            "finish_minutes": lambda: _minutes(r.completed_at, r.created_at)
            if r.status in ("completed", "verified", "closed") else None,
            "status": lambda: texts.label("status", r.status),
            "unfinished_reason": lambda: "" if r.status in ("completed", "verified", "closed", "cancelled")
            else (r.hold_reason if r.status == "on_hold" and r.hold_reason else texts.label("status", r.status)),
            "signoff": lambda: words["signoff"].get(r.signoff, r.signoff or ""),
            "verified_at": lambda: _local(r.verified_at, tz),
            "rating": lambda: r.rating,
            "warranty_of": lambda: r.warranty_of or "",
            "materials": lambda: "; ".join(f"{m.get('name', '')} x{m.get('qty', '')}" for m in r.materials or []
                                           if isinstance(m, dict)),
            "work_minutes": lambda: r.work_minutes,
            "completion_note": lambda: r.completion_note or "",
            "quote_items": lambda: "; ".join(f"{i.get('name', '')} {i.get('amount', '')}" for i in r.quote_items or []
                                             if isinstance(i, dict)),
            "quote": lambda: r.quote,
            "quote_status": lambda: words["quote_status"].get(r.quote_status, r.quote_status or ""),
            # What was paid: an agreed quote's fee (BR-13); a waived or declined one paid nothing.
            "fee": lambda: r.fee if r.quote_status == "agreed" else None,
            "waiver_amount": lambda: _decimal(waiver.get("amount")) if approved else None,
            "waiver_payer": lambda: words["payer"].get(waiver.get("payer", ""), waiver.get("payer", "")) if approved else "",
            "waiver_reason": lambda: waiver.get("reason", "") if approved else "",
            "waiver_approver": lambda: " ".join(filter(None, (words["role"].get(waiver.get("approver", ""), ""),
                                                               waiver.get("decided_by", "")))) if approved else "",
        }
        return [getters[c["key"]]() for c in self.columns]

    def header(self, heading: str) -> None:
        for i, col in enumerate(self.columns):
            self.ws.column_dimensions[_letter(i)].width = col.get("width", 12)
        self.ws.freeze_panes = "C3"
        self.ws.append([_bold(self.ws, heading)])
        self.ws.append([_bold(self.ws, c["title"]) for c in self.columns])

    def append(self, r: Any) -> None:
        self.rows += 1
        out = []
        for col, v in zip(self.columns, self.values(r)):
            if v == "" or v is None:
                v = None                     # no cell at all: a third of a row is empty, and cells cost time
            elif isinstance(v, datetime):
                v = _cell(self.ws, v, DATE_FORMAT)
            elif isinstance(v, Decimal):
                if col["key"] == "fee":
                    self.fee += v
                elif col["key"] == "waiver_amount":
                    self.waived += v
                v = _cell(self.ws, v, MONEY)
            out.append(v)
        self.ws.append(out)

    def footer(self) -> None:
        """合计: the number of tickets, and the money columns added up."""
        keys = [c["key"] for c in self.columns]
        out: list[Any] = [None] * len(keys)
        out[0] = _bold(self.ws, layout()["words"]["total"])
        out[1] = self.rows
        if "fee" in keys:
            out[keys.index("fee")] = _cell(self.ws, self.fee, MONEY)
        if "waiver_amount" in keys:
            out[keys.index("waiver_amount")] = _cell(self.ws, self.waived, MONEY)
        self.ws.append(out)


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(i + 1)


def _cell(ws, value: Any, number_format: str) -> WriteOnlyCell:
    c = WriteOnlyCell(ws, value=value)
    c.number_format = number_format
    return c


def _bold(ws, value: Any) -> WriteOnlyCell:
    c = WriteOnlyCell(ws, value=value)
    c.font = Font(bold=True)
    c.alignment = Alignment(vertical="center")
    return c


def heading(title: str, period: Period) -> str:
    last = period.end - timedelta(days=1)
    return layout()["words"]["heading"].format(title=title, period=period.label, first=period.start.date().isoformat(),
                                               last=last.date().isoformat())


# ---- the summary ---------------------------------------------------------------------------------------------

def _pct(ws, v: float | None):
    return None if v is None else _cell(ws, v, PERCENT)


def _min(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def figure_values(ws, f: dict[str, Any]) -> dict[str, Any]:
    """A group's figures, keyed as [summary] labels them: rates as percentages, times in minutes."""
    out: dict[str, Any] = {k: f[k] for k in ("issued", "completed", "unfinished", "cancelled")}
    out["completion_rate"] = _pct(ws, f["completion_rate"])
    out["unfinished_rate"] = _pct(ws, f["unfinished_rate"])
    for k in CLOCKS:
        out[f"{k}_mean"] = _min(f["times"][k]["mean_seconds"])
        out[f"{k}_p90"] = _min(f["times"][k]["p90_seconds"])
    for k in CLOCKS:
        out[f"{k}_sla"] = _pct(ws, f["sla"][k]["compliance"])
    s = f["survey"]
    out.update(surveyed=s["surveyed"], answered=s["answered"], response_rate=_pct(ws, s["response_rate"]),
               overall=s["overall"], **{k: s[k] for k in SCORES})
    out.update(warranty=f["warranty"]["rework"], warranty_rate=_pct(ws, f["warranty"]["rate"]))
    return out


GROUP_COLUMNS = ("issued", "completed", "unfinished", "cancelled", "completion_rate", "respond_mean", "respond_p90",
                 "arrive_mean", "finish_mean", "finish_p90", "respond_sla", "arrive_sla", "finish_sla", "overall",
                 "response_rate", "warranty", "warranty_rate")


def write_summary(ws, report: dict[str, Any], period: Period, texts: Texts) -> None:
    words, labels, headers = layout()["words"], layout()["summary"], layout()["headers"]
    ws.column_dimensions["A"].width = 26
    for col in "BCDEFGHIJKLMNOPQR":
        ws.column_dimensions[col].width = 13
    ws.append([_bold(ws, heading(layout()["titles"][period.kind], period))])
    for key in ("period", "start", "end", "timezone", "as_of"):
        ws.append([labels[key], report[key]])
    for key, value in figure_values(ws, report["totals"]).items():
        ws.append([labels[key], value])
    if "finance" in report:
        fin = report["finance"]
        ws.append([labels["paid_count"], fin["paid"]["count"]])
        ws.append([labels["paid_total"], _cell(ws, Decimal(fin["paid"]["total"]), MONEY)])
        ws.append([labels["waiver_count"], fin["waivers"]["count"]])
        ws.append([labels["waiver_total"], _cell(ws, Decimal(fin["waivers"]["total"]), MONEY)])

    def table(title: str, first: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
        ws.append([])
        ws.append([_bold(ws, title)])
        ws.append([_bold(ws, first), *(_bold(ws, labels[k]) for k in GROUP_COLUMNS)])
        for name, f in rows:
            values = figure_values(ws, f)
            ws.append([name, *(values[k] for k in GROUP_COLUMNS)])

    table(words["by_trade"], headers["trade"], [(texts.label("trade", g["trade"]), g) for g in report["by_trade"]])
    table(words["by_technician"], headers["technician"],
          [(g["name"] or words["unassigned"], g) for g in report["by_technician"]])
    ws.append([])
    ws.append([_bold(ws, words["reasons"])])
    ws.append([_bold(ws, headers[k]) for k in ("status", "reason", "count")])
    for r in report["unfinished_reasons"]:
        reason = r["reason"] if r["status"] == "on_hold" and r["reason"] != r["status"] else texts.label("status", r["status"])
        ws.append([texts.label("status", r["status"]), reason, r["count"]])
    if "finance" in report:
        fin, w = report["finance"], layout()
        ws.append([])
        ws.append([_bold(ws, words["paid_by_trade"])])
        ws.append([_bold(ws, headers[k]) for k in ("trade", "count", "total")])
        for g in fin["paid"]["by_trade"]:
            ws.append([texts.label("trade", g["trade"]), g["count"], _cell(ws, Decimal(g["total"]), MONEY)])
        ws.append([])
        ws.append([_bold(ws, words["waivers_by_payer"])])
        ws.append([_bold(ws, headers[k]) for k in ("payer", "count", "total")])
        for g in fin["waivers"]["by_payer"]:
            ws.append([w["payer"].get(g["payer"], g["payer"]), g["count"], _cell(ws, Decimal(g["total"]), MONEY)])
        ws.append([])
        ws.append([_bold(ws, words["waiver_items"])])
        ws.append([_bold(ws, headers[k]) for k in ("number", "trade", "amount", "payer", "reason", "approver",
                                                    "decided_by")])
        for i in fin["waivers"]["items"]:
            ws.append([i["number"], texts.label("trade", i["trade"]), _cell(ws, Decimal(i["amount"]), MONEY),
                       w["payer"].get(i["payer"], i["payer"]), i["reason"], w["role"].get(i["approver"], i["approver"]),
                       i["decided_by"]])


# ---- the workbook -----------------------------------------------------------------------------------------

async def write_workbook(out: IO[bytes], session: AsyncSession, report: dict[str, Any], period: Period,
                         texts: Texts, tz: tzinfo, registers: Sequence[str] = REGISTERS,
                         batch: int = 1000) -> dict[str, int]:
    """Write the workbook to `out` (a binary file); returns the rows written to each register."""
    wb = Workbook(write_only=True)
    names = layout()["sheets"]
    summary = wb.create_sheet(names["summary"])
    sheets = {}
    for key in registers:
        sheets[key] = _Register(wb.create_sheet(names[key]), key, texts, tz)
        sheets[key].header(heading(names[key], period))
    await asyncio.to_thread(write_summary, summary, report, period, texts)

    def append(rows: list[Any]) -> None:
        for r in rows:
            sheets[r.area].append(r)

    # The next batch is read from the database while the thread writes the last one.
    writing: asyncio.Future | None = None
    try:
        async for rows in register_rows(session, period, registers, batch):
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(append, rows))
    finally:
        if writing is not None:
            await writing

    def finish() -> None:
        for sheet in sheets.values():
            sheet.footer()
        wb.save(out)

    await asyncio.to_thread(finish)
    return {k: s.rows for k, s in sheets.items()}
