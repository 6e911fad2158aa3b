"""Words that work in any state (the fallbacks): cancel, help, my reports, look up a ticket number."""
from __future__ import annotations

import re
from dataclasses import dataclass

_CANCEL = re.compile(r"^(取消|取消报修|不报了|算了|不用了|撤销)[。.!！]*$")
_HELP = re.compile(r"^(帮助|help|菜单|怎么用|使用说明|\?|？)$", re.IGNORECASE)
_MINE = re.compile(r"^(我的报修|我的工单|我的维修单|查看报修|报修记录|报修进度|查询|查进度)$")
_NUMBER = re.compile(r"(?:查询|查|进度|单号)?\s*[:：]?\s*(BX\d{8}-\d{4,})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    name: str          # cancel | help | mine | query
    arg: str = ""


def match_command(text: str) -> Command | None:
    t = text.strip()
    if _CANCEL.match(t):
        return Command("cancel")
    if _HELP.match(t):
        return Command("help")
    if _MINE.match(t):
        return Command("mine")
    m = _NUMBER.fullmatch(t)
    if m:
        return Command("query", m.group(1).upper())
    return None
