"""Renders the sentences people read from templates/ (jinja2); one environment per app, never global."""
from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from templates.words import button

# select_autoescape matches the end of the name: "index.html.j2" needs its own entry.
HTML_EXTENSIONS = tuple(f"{kind}{tail}" for kind in ("html", "htm", "xml") for tail in ("", ".j2", ".jinja"))


class Texts:
    def __init__(self, tz: str = "Asia/Shanghai", directory: str | None = None) -> None:
        self.tz = ZoneInfo(tz)
        self.env = Environment(
            loader=FileSystemLoader(directory or str(files("templates"))),
            # HTML pages (page.html, page.html.j2) escape what they show; chat sentences (.j2) are text.
            autoescape=select_autoescape(enabled_extensions=HTML_EXTENSIONS, default_for_string=False),
            undefined=StrictUndefined,  # a missing variable is a bug, not an empty sentence
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # templates ship with the code: no stat() of the file on every render
        )
        self.env.filters["local"] = self._local
        self.env.filters["mask_phone"] = mask_phone
        self.env.filters["yuan"] = yuan
        self.env.globals["label"] = self.label
        self.env.globals["button"] = button  # a button's label: {{ button("confirm") }}
        self._labels: dict[str, dict[str, str]] = {}

    def render(self, name: str, **ctx) -> str:
        return self.env.get_template(name).render(**ctx).strip()

    def label(self, kind: str, key: str | None) -> str:
        """Chinese label of a code (status, trade, area, category) from templates/labels/<kind>.toml."""
        if kind not in self._labels:
            import tomllib
            path = files("templates") / "labels" / f"{kind}.toml"
            self._labels[kind] = tomllib.loads(path.read_text(encoding="utf-8"))
        return self._labels[kind].get(key or "", key or "")

    def _local(self, value: datetime | str | None, fmt: str = "%m-%d %H:%M") -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(self.tz).strftime(fmt)


def mask_phone(phone: str | None) -> str:
    """138****8000: enough for a neighbour to recognise, not enough to call."""
    if not phone:
        return ""
    if len(phone) >= 11:
        return phone[:3] + "****" + phone[-4:]
    return phone[:2] + "****" + phone[-2:]


def yuan(value) -> str:
    """An amount in 元 as people write it: 80, 80.5, 1200 (no trailing zeros)."""
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format(d.quantize(Decimal("0.01")).normalize(), "f")
