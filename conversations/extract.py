"""Pull the BR-2 report fields (area, location, name, phone, description, visit time) out of resident text."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from conversations.textcheck import cn_int, fold, fold_width, is_greeting, is_meaningless
from conversations.visit_time import find_visit
from conversations.vocabulary import longest_first, pattern, rule_file

_WORDS = rule_file("extract.toml")
_PHONE, _NAME, _LOCATION, _AREA = _WORDS["phone"], _WORDS["name"], _WORDS["location"], _WORDS["area"]
_MESSAGE, _VISIT = _WORDS["message"], _WORDS["visit"]

# Masked spans become NUL so nothing matches across them and offsets stay those of the original text.
_MASK = "\x00"


@dataclass(frozen=True)
class Extracted:
    location: str | None
    area: str | None          # "public" | "unit" | None when unclear (BR-2)
    phone: str | None         # digits only
    phone_invalid: str | None  # a phone-looking string that failed validation, as written
    name: str | None
    description: str | None
    visit_text: str | None
    visit_at: datetime | None


# --- phones -------------------------------------------------------------------------------------

_MOBILE_CANDIDATE = re.compile(r"(?<![\d+])(?:\+?86[\s-]?)?1\d{2}[\s-]?\d{4}[\s-]?\d{4}(?!\d)")
_LANDLINE_CANDIDATE = re.compile(r"(?<![\d+])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3})[\s-]?\d{7,8}(?!\d)")
# Phone-looking but not valid: a long digit run, or digit groups shaped like a mobile / landline
# ("138 1111 222", "021-588812"); room lists such as "1101 1102 1103" are not.
_PHONE_LIKE = re.compile(r"(?<![\d-])(?:\d{10,13}|1\d{2}[\s-]\d{3,5}[\s-]\d{3,5}|0\d{2,3}[\s-]\d{5,9})(?![\d-])")
_LABELLED_NUMBER = re.compile(pattern(_PHONE, "labelled_number"))
_LABEL_BEFORE = re.compile(pattern(_PHONE, "label_before"))
_PHONE_ANSWER_PREFIX = re.compile(pattern(_PHONE, "answer_prefix"))
_SPOKEN_MOBILE = re.compile(pattern(_PHONE, "spoken_mobile"))
_SPOKEN_PHONE_DIGITS = str.maketrans(_PHONE["spoken_digits"], _PHONE["spoken_digit_values"])


def _is_valid_phone(digits: str) -> bool:
    # BR-2: a mainland mobile, or a landline with its area code (3-digit codes are 010 and 02x).
    return bool(re.fullmatch(r"1[3-9]\d{9}|0(?:10|2\d)\d{7,8}|0[3-9]\d{2}\d{7,8}", digits))


def _digits(candidate: str) -> str:
    digits = re.sub(r"\D", "", candidate)
    if len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
    return digits


def _phone_spans(text: str) -> list[tuple[int, int, str | None]]:
    """(start, end, normalized digits or None when invalid) for every phone-looking string."""
    spans: list[tuple[int, int, str | None]] = []

    def free(begin: int, end: int) -> bool:
        return all(end <= s or begin >= e for s, e, _ in spans)

    for pattern in (_MOBILE_CANDIDATE, _LANDLINE_CANDIDATE, _PHONE_LIKE):
        for match in pattern.finditer(text):
            if free(*match.span()):
                digits = _digits(match.group())
                spans.append((*match.span(), digits if _is_valid_phone(digits) else None))
    for match in _SPOKEN_MOBILE.finditer(text):
        if free(*match.span()):
            digits = _digits(match.group().translate(_SPOKEN_PHONE_DIGITS))
            spans.append((*match.span(), digits if _is_valid_phone(digits) else None))
    for match in _LABELLED_NUMBER.finditer(text):
        if free(*match.span(1)):
            digits = _digits(match.group(1))
            spans.append((*match.span(1), digits if _is_valid_phone(digits) else None))
    return sorted(spans)


def find_phone(text: str) -> tuple[str | None, str | None]:
    """(first valid phone as digits, first phone-looking string that failed validation)."""
    text = fold(text)
    spans = _phone_spans(text)
    valid = next((digits for _, _, digits in spans if digits), None)
    invalid = next((text[s:e].strip() for s, e, digits in spans if digits is None), None)
    return valid, invalid


def normalize_phone(text: str) -> str | None:
    """The whole answer is one phone number (spaces, dashes, brackets, +86, a label tolerated) -> digits."""
    answer = _PHONE_ANSWER_PREFIX.sub("", fold_width(text or ""))
    answer = answer.strip(" \t\r\n。.,，!！")
    if not re.fullmatch(r"\+?[\d\s()（）-]+", answer):
        return None
    digits = _digits(answer)
    return digits if _is_valid_phone(digits) else None


# --- names --------------------------------------------------------------------------------------

_CJK = _NAME["cjk"]
# Tried in this order: a titled surname, a labelled name, 我是/我叫, then 我姓 (see extract.toml [name]).
_TITLED = re.compile(pattern(_NAME, "titled"))
_LABELLED_NAME = re.compile(pattern(_NAME, "labelled"))
_SELF_NAMED = re.compile(pattern(_NAME, "self_named"))
_SURNAME_ONLY = re.compile(pattern(_NAME, "surname_only"))
_CALLED = re.compile(pattern(_NAME, "called"))
_INTRODUCED = re.compile(pattern(_NAME, "introduced"))
_RELATIVE = re.compile(pattern(_NAME, "relative"))
_WHOSE = re.compile(pattern(_NAME, "whose"))
_NAME_LEAD = re.compile(pattern(_NAME, "lead"))
_NAME_ANSWER_PREFIX = re.compile(pattern(_NAME, "answer_prefix"))
_NOT_A_NAME = set(_NAME["not_names"])


def _find_name(text: str) -> tuple[int, int, str] | None:
    """(start, end, name): a titled surname, then a labelled name, then 我是/我叫, "I'm …", 叫我, a relative's own
    name, then 我姓."""
    # A titled name whose carer writes is the household, not the contact ("李奶奶的保姆小陈"); so are its later
    # mentions ("张爷爷家的护工，张爷爷家那个门铃").
    household = {m.group() for m in _TITLED.finditer(text) if _WHOSE.match(text, m.end())}
    for pattern in (_TITLED, _LABELLED_NAME, _SELF_NAMED, _INTRODUCED, _CALLED, _RELATIVE, _SURNAME_ONLY):
        match = next((m for m in pattern.finditer(text)
                      if pattern is not _TITLED or m.group() not in household), None)
        if match:
            name = match.group("name") if "name" in pattern.groupindex else match.group()
            if name.strip() in _NOT_A_NAME:
                continue   # a form's next field or a desk ("姓名：\n房号：", "联系人：前台")
            # The label / "我是" goes with the name so the description does not keep it.
            lead = _NAME_LEAD.search(text, 0, match.start())
            return (lead.start() if lead else match.start()), match.end(), name.strip()
    return None


def parse_name_answer(text: str) -> str | None:
    """Answer to "your name?": 1-10 CJK/latin chars, no digits ("王女士", "张三", "Tom"); else None."""
    answer = _NAME_ANSWER_PREFIX.sub("", fold_width(text or "").strip()).strip(" \t\r\n。.,，!！~～")
    if not answer or is_meaningless(answer) or is_greeting(answer) or answer in _NOT_A_NAME:
        return None
    if len(answer) > 10 or not re.fullmatch(rf"[{_CJK}A-Za-z]+(?:[ ·'.-][{_CJK}A-Za-z]+)*", answer):
        return None
    return answer


# --- locations ----------------------------------------------------------------------------------

# Site-wide places can be found without a building; building places and private rooms cannot.
_SITE_PLACES = tuple(_LOCATION["site_places"])
_BUILDING_PLACES = tuple(_LOCATION["building_places"])
_COMMON_PLACES = tuple(_LOCATION["common_places"])
_PRIVATE_ROOMS = tuple(_LOCATION["private_rooms"])
_OFFICE_ROOMS = tuple(_LOCATION["office_rooms"])
_POSSESSIVE = _LOCATION["possessive"]


# In this order: of equally long tokens at one place the first kind wins.
_TOKEN_PATTERNS = {
    "hyphen": re.compile(r"(?<![\d-])\d{1,3}-\d{1,2}-\d{3,4}(?![\d-])"),
    "building_unit": re.compile(pattern(_LOCATION, "building_unit")),
    "building": re.compile(pattern(_LOCATION, "building")),
    "phase": re.compile(pattern(_LOCATION, "phase")),
    "unit": re.compile(pattern(_LOCATION, "unit")),
    # "3栋2-1502": unit and room after a building.
    "unit_room": re.compile(r"(?<![\d-])\d{1,2}-\d{3,4}(?![\d-])"),
    "floor": re.compile(pattern(_LOCATION, "floor")),
    "basement": re.compile(pattern(_LOCATION, "basement")),
    "bay": re.compile(pattern(_LOCATION, "bay")),
    # A villa by its code on the site plan ("L-15"); after the bay, which wins a tie ("B1-023").
    "house": re.compile(pattern(_LOCATION, "house_code")),
    # A villa's kind ("联排", "叠拼"): a house follows it.
    "villa": re.compile(longest_first(_LOCATION["villa_types"])),
    "shop": re.compile(pattern(_LOCATION, "shop")),
    "row": re.compile(pattern(_LOCATION, "row")),
    "room": re.compile(pattern(_LOCATION, "room")),
    "room_en": re.compile(r"(?i:unit|room|flat|rm|apartment|apt)\.?\s?(?:\d{3,4}|\d{1,2}[A-Ha-h])(?![\dA-Za-z])"),
    "flat_code": re.compile(pattern(_LOCATION, "flat_before_building")),
    "zone": re.compile(pattern(_LOCATION, "zone")),
    "gate": re.compile(pattern(_LOCATION, "gate")),
    "site": re.compile(longest_first(_SITE_PLACES), re.IGNORECASE),
    "common": re.compile(longest_first(_COMMON_PLACES)),
    "side": re.compile(f'(?:{pattern(_LOCATION, "side")})(?=(?:{longest_first(_SITE_PLACES)}))'),
    "estate": re.compile(pattern(_LOCATION, "estate")),
    "place": re.compile(longest_first(_BUILDING_PLACES), re.IGNORECASE),
    "private": re.compile(longest_first(_PRIVATE_ROOMS)),
    "office": re.compile(longest_first(_OFFICE_ROOMS)),
}
_DASH = re.compile(r" ?- ?")
_DASHED_ROOM = re.compile(r"(?:\d{1,2}-)?\d{3,4}(?![\d-])")
_ROOM_SPOKEN = re.compile(pattern(_LOCATION, "room_spoken"))
_FIXTURE = re.compile(f'(?:{pattern(_LOCATION, "numbered_fixture")})|(?:{longest_first(_LOCATION["fixtures"])})')
_FLAT = re.compile(pattern(_LOCATION, "flat"))
_FLAT_CODE = re.compile(pattern(_LOCATION, "flat_code"))
_ROOM_BEFORE_GE = re.compile(pattern(_LOCATION, "room_before_ge"))
_ENTRANCE = re.compile(pattern(_LOCATION, "entrance"))
_ROOM_JOINER = re.compile(pattern(_LOCATION, "room_joiner"))
_JOINER = re.compile(pattern(_LOCATION, "joiner"))
# Between parts of one address: "3栋 2单元 1502", "Block 2, 1606", "Phase II 的会所".
_SEPARATOR = re.compile(r"[ ,，\n]{1,2}")   # a line break too: an address typed over lines ("18栋\n1503")
# A place named in a comparison is no place ("像喷泉一样").
_LIKENED = re.compile(pattern(_LOCATION, "likened"))
_BESIDE = re.compile(pattern(_LOCATION, "beside"))
_HOUSE = re.compile(pattern(_LOCATION, "house"))
_VILLA_HOUSE = re.compile(pattern(_LOCATION, "villa_house"))
_STACK = re.compile(pattern(_LOCATION, "stack"))
_BUILDING_DASH_ROOM = re.compile(pattern(_LOCATION, "building_dash_room"))
_STREET_SHOP = re.compile(pattern(_LOCATION, "street_shop"))
_LINKING = re.compile(pattern(_LOCATION, "linking"))
_MODIFIER = re.compile(pattern(_LOCATION, "modifier", modifiers=longest_first(_LOCATION["modifiers"])))
_STRUCTURAL = {"hyphen", "building", "unit", "floor", "room", "room_en", "phase", "unit_room", "room_spoken",
               "basement", "bay", "flat", "flat_code", "building_unit", "shop", "row", "estate", "house", "villa"}
_SCORE = {"hyphen": 12, "building": 10, "room": 5, "room_en": 5, "unit_room": 7, "site": 4, "unit": 2, "floor": 1, "zone": 2,
          "place": 1, "private": 1, "phase": 1, "room_spoken": 5, "gate": 4, "basement": 4, "bay": 2, "flat": 3,
          "flat_code": 3, "building_unit": 12, "shop": 5, "row": 3, "common": 1, "estate": 1, "side": 0,
          "office": 1, "house": 10, "villa": 1}
# Kinds that say where on the estate a place is, besides its building: a second mention of one is kept.
_WHERE_ON_SITE = {"site", "zone", "gate", "basement", "phase", "common", "bay"}
# "5栋和6栋中间": two buildings named together.
_AND = tuple(_LOCATION["and_words"])
_LEAD_IN = re.compile(pattern(_LOCATION, "lead_in"))


@dataclass(frozen=True)
class _Run:
    start: int
    end: int
    kinds: tuple[str, ...]
    # Where the run's own words end, before a place joined after its modifier ("5栋后面|那个配电房"): that place
    # stays in the description too, which often names the fault's object with it.
    own_end: int = -1

    @property
    def mask_end(self) -> int:
        return self.own_end if self.own_end >= 0 else self.end

    @property
    def findable(self) -> bool:
        # A room alone or "卫生间" alone cannot be found. A building, a zone, a gate, a site-wide place, a phase
        # ("3期的广播", "2期5-1101"), a basement level or a parking bay, a shop, a lobby or a roof can; so can an
        # estate's name with a floor or a room of it ("华庭12楼1号"), a unit's common part ("三单元门口") and an
        # office room on its floor ("16F会议室"), and a building's room in staff shorthand ("15-1003").
        kinds = set(self.kinds)
        return (bool({"hyphen", "building", "site", "zone", "gate", "phase", "basement", "bay", "building_unit", "shop",
                      "common", "house"} & kinds) or ("estate" in kinds and len(kinds) > 1)
                or ("unit" in kinds and "place" in kinds) or ("floor" in kinds and "office" in kinds)
                or self.kinds[0] == "unit_room")

    @property
    def score(self) -> int:
        return sum(_SCORE[kind] for kind in self.kinds)


def _token_at(text: str, pos: int) -> tuple[str, int] | None:
    """The longest location token starting at pos as (kind, end)."""
    best: tuple[str, int] | None = None
    for kind, pattern in _TOKEN_PATTERNS.items():
        match = pattern.match(text, pos)
        if match and match.end() > pos and (best is None or match.end() > best[1]):
            best = (kind, match.end())
    return best


def _next_token(text: str, pos: int, last_kind: str) -> tuple[str, int] | None:
    # A house after its kind or its zone ("联排12号", "北区3号", "东区18号院"); after its kind, a building is a house
    # of its own too ("叠拼5栋"), and a stacked villa's level belongs to it ("叠拼5栋上叠").
    if last_kind in {"villa", "zone"} and (house := _VILLA_HOUSE.match(text, pos)):
        return "house", house.end()
    if last_kind == "villa" and (token := _token_at(text, pos)) and token[0] == "building":
        return "house", token[1]
    if last_kind in {"house", "building"} and (stack := _STACK.match(text, pos)):
        return "house", stack.end()
    token = _token_at(text, pos)
    if token:
        return token
    if last_kind in {"building", "unit"} and (spoken := _ROOM_SPOKEN.match(text, pos)):
        return "room_spoken", spoken.end()   # "十一栋一单元五零二"
    if last_kind == "floor" and (spoken := _ROOM_SPOKEN.match(text, pos)):
        return "room_spoken", spoken.end()   # "四栋十二楼一二零六"
    if last_kind == "floor" and (flat := _FLAT.match(text, pos)):
        return "flat", flat.end()            # "18楼B室"
    if last_kind == "building" and (room := _ROOM_BEFORE_GE.match(text, pos)):
        return "room", room.end()            # "10座1802个热水炉"
    if last_kind in {"building", "site"} and (entrance := _ENTRANCE.match(text, pos)):
        return "unit", entrance.end()        # "14号楼2门702"
    if last_kind == "site" and (house := _HOUSE.match(text, pos)):
        return "building", house.end()       # "洋房区12号302"
    if last_kind in {"site", "place", "common"} and (joiner := _ROOM_JOINER.match(text, pos)) \
            and (token := _token_at(text, joiner.end())) and token[0] in {"site", "place", "common"}:
        return token                         # "会所游泳池那个机房", "3栋门口那个无障碍坡道"
    if text.startswith(_POSSESSIVE, pos):
        # "1502的卫生间": 的 only joins when a place follows; after a building, a room too ("十六栋的 1602").
        after = pos + len(_POSSESSIVE)
        token = _token_at(text, after)
        if token and token[0] in {"site", "place", "private", "zone", "building", "common"}:
            return token
        if (joiner := _ROOM_JOINER.match(text, after)) and (token := _token_at(text, joiner.end())) \
                and token[0] in {"site", "place", "common"}:
            return token   # "五栋二单元的那个楼梯间"
        if last_kind == "building":
            after += 1 if text.startswith(" ", after) else 0
            if joiner := _ROOM_JOINER.match(text, after):   # "七栋的那个一零零八"
                after = joiner.end()
            token = _token_at(text, after)
            if token and token[0] in {"room", "unit", "unit_room"}:
                return token
            spoken = _ROOM_SPOKEN.match(text, after)
            return ("room_spoken", spoken.end()) if spoken else None
        return None
    if last_kind in {"building", "phase"} and text.startswith(_AND, pos):
        token = _token_at(text, pos + 1)   # "5栋和6栋中间", "一期和二期中间"
        return token if token and token[0] == last_kind else None
    if (dash := _DASH.match(text, pos)) and last_kind == "building":
        # "3栋-1502", "Block 9 - 1906": the room pattern refuses a leading dash (dates, phones), a building
        # vouches for it here.
        room = _DASHED_ROOM.match(text, dash.end())
        return ("room", room.end()) if room else None
    separator = _SEPARATOR.match(text, pos)
    if separator and last_kind in _STRUCTURAL:
        # "3栋 2单元 1502" / "3栋，1202室" / "Block 2, 1606": a separator joins building parts, and after a
        # building, a phase or a floor a common place ("Block 3 大堂", "Phase II 的会所", "13栋 3楼 楼梯间").
        after = separator.end()
        token = _token_at(text, after)
        if token and token[0] in _STRUCTURAL - {"hyphen"}:
            return token
        if last_kind in {"building", "unit"} and (spoken := _ROOM_SPOKEN.match(text, after)):
            return "room_spoken", spoken.end()   # "十一栋 一单元 五零二"
        if last_kind == "building" and (entrance := _ENTRANCE.match(text, after)):
            return "unit", entrance.end()        # "9号楼 二门502"
        if last_kind == "building" and (flat := _FLAT_CODE.match(text, after)):
            return "flat_code", flat.end()       # "Block 7 15B"
        if last_kind == "house":
            # "联排17号 二楼主卫", "L-15 露台": a house's own rooms and grounds, as a flat's are right after it.
            token = _token_at(text, after)
            return token if token and token[0] in {"site", "place", "common", "private"} else None
        if last_kind in {"building", "phase", "basement", "floor"}:
            if text.startswith(_POSSESSIVE, after):
                after += len(_POSSESSIVE)
            token = _token_at(text, after)
            # "B1 C区", "B1 3号楼梯口": a basement's zone or numbered stair too.
            places = {"site", "place", "common", "zone", "gate"} if last_kind == "basement" \
                else {"site", "place", "common"}
            return token if token and token[0] in places else None
    return None


def _runs(text: str) -> list[_Run]:
    runs: list[_Run] = []
    pos = 0
    while pos < len(text):
        token = _token_at(text, pos)
        if token is None:
            pos += 1
            continue
        start, kinds, end, own_end = pos, [token[0]], token[1], -1
        while True:
            while (token := _next_token(text, end, kinds[-1])) is not None:
                kinds.append(token[0])
                end = token[1]
            modifier = _MODIFIER.match(text, end) or _LINKING.match(text, end)
            if not modifier:
                break
            # "5栋后面那个配电房": a place named right after the modifier is where the fault is.
            joiner = _JOINER.match(text, modifier.end())
            token = _token_at(text, joiner.end() if joiner else modifier.end())
            if not token or token[0] not in {"site", "place", "common"}:
                if modifier.re is _MODIFIER:
                    end = modifier.end()
                break
            end = modifier.end()
            own_end = end if own_end < 0 else own_end
            kinds.append(token[0])
            end = token[1]
        runs.append(_Run(start, end, tuple(kinds), own_end))
        pos = end
    return runs


def _place_runs(text: str) -> list[_Run]:
    """The location's runs in text order: the best one, and a second mention that says where on the estate it is
    when the best does not ("花园里的路灯…靠近3号楼那边", "负二层…就在D区电梯厅旁边")."""
    runs = [run for run in _runs(text) if run.findable]
    # What lies below or beside the fault is no place of it ("…底下就是人行道"), unless nothing else is named.
    runs = [run for run in runs if not _BESIDE.search(text, 0, run.start)] or runs
    # max() keeps the first of equal scores: the earliest mention wins a tie.
    best = max(runs, key=lambda run: run.score, default=None)
    if best is None:
        return []
    # Kinds the best run lacks; one with no building also gains from another named place ("…游乐区旁边…中心花园").
    missing = _WHERE_ON_SITE - set(best.kinds) if "building" in best.kinds or "hyphen" in best.kinds else _WHERE_ON_SITE
    others = [run for run in runs if run is not best and missing & set(run.kinds)
              and not _LIKENED.search(text, 0, run.start)]
    second = max(others, key=lambda run: run.score, default=None)
    return sorted((best, second), key=lambda run: run.start) if second else [best]


def _with_fixture(text: str, end: int) -> int:
    """Where a location ends once a fixture right after it joins ("5号楼" + "电梯", "12栋楼道" + "的配电箱")."""
    pos = end + len(_POSSESSIVE) if text.startswith(_POSSESSIVE, end) else end
    # "Tower C 货梯": a space only after an English name, where Chinese would have written none.
    pos += 1 if text.startswith(" ", pos) and pos > 0 and text[pos - 1].isascii() and text[pos - 1].isalnum() else 0
    fixture = _FIXTURE.match(text, pos)
    if not fixture and (linking := _LINKING.match(text, end)):
        end_link = linking.end()   # "楼道里的电表箱"
        joiner = _JOINER.match(text, end_link)
        fixture = _FIXTURE.match(text, joiner.end() if joiner else end_link)
    if not fixture and (joiner := _JOINER.match(text, end)):
        fixture = _FIXTURE.match(text, joiner.end())   # "15栋2单元那个电梯", "3栋门口那组快递柜"
    return fixture.end() if fixture else end


def parse_location_answer(text: str) -> str | None:
    """Answer to "where is it?": the findable location in it, or None ("家里", "这里", "不知道", "楼上")."""
    folded = fold(text or "")
    return _location_in(text or "", _mask_spans(folded, [(s, e) for s, e, _ in _phone_spans(folded)]))[0]


def _location_in(text: str, masked: str) -> tuple[str | None, _Run | None]:
    """The location as written (its runs, each with a fixture right after it) and the run that leaves the
    description; (None, None) when nothing findable is named."""
    runs = _place_runs(masked)
    if not runs:
        return None, None
    # A fixture after the place joins the location but stays in the description ("5号楼电梯卡住了").
    location = " ".join(text[run.start:_with_fixture(masked, run.end)].strip() for run in runs)
    return location, max(runs, key=lambda run: run.score)


def bare_room(text: str) -> str | None:
    """A room written without its building ("1502卫生间", "2单元1502"): not a place of its own, but an estate's
    unit list may know which building has it."""
    folded = fold(text or "")
    masked = _mask_spans(folded, [(s, e) for s, e, _ in _phone_spans(folded)])
    rooms = [run for run in _runs(masked) if not run.findable and {"room", "unit_room"} & set(run.kinds)]
    return text[rooms[0].start:rooms[0].end].strip() if rooms else None


_PLACE_WORD = re.compile(longest_first((*_PRIVATE_ROOMS, *_BUILDING_PLACES, *_COMMON_PLACES)))
_ROW_HOUSE = re.compile(pattern(_LOCATION, "row_house"))


def place_word_at(text: str, pos: int) -> str:
    """The room or common part of a building named at pos ("卫生间", "门厅"), or ""."""
    match = _PLACE_WORD.match(text, pos)
    return match.group() if match else ""


# --- area ---------------------------------------------------------------------------------------

# Compared with lower-cased text: English residents write "Lobby" and "lobby".
_HOME_WORDS = tuple(word.lower() for word in _AREA["home_words"])
_NOT_COMMON = set(_AREA["not_common"])
_PUBLIC_WORDS = tuple(word.lower() for word in (*_SITE_PLACES, *_BUILDING_PLACES, *_COMMON_PLACES,
                                                 *_AREA["public_words"]) if word not in _NOT_COMMON)


def _has_room(text: str) -> bool:
    return (any(_TOKEN_PATTERNS[kind].search(text) for kind in ("hyphen", "room", "unit_room", "room_en"))
            or bool(_ROW_HOUSE.search(text))
            or bool(_BUILDING_DASH_ROOM.search(text))
            or bool(_STREET_SHOP.search(text))
            # A room said digit by digit, or a flat lettered on its floor ("18楼B室"), is a home too.
            # So is a house of a villa estate ("联排12号", "L-15").
            or any({"room_spoken", "flat", "flat_code", "shop", "house"} & set(run.kinds) for run in _runs(text)))


def infer_area(location: str | None, text: str = "") -> str | None:
    """BR-2 area: "unit" for a room number or 我家/家里, "public" for common parts, else None. The place itself
    decides first: 「3栋十八楼走廊…我家老人要出门」 is the corridor's, whoever reports it."""
    # An estate's own name says nothing of the area ("锦绣花园5栋" is no garden).
    place = _TOKEN_PATTERNS["estate"].sub("", fold(location or "")).lower()
    if _TOKEN_PATTERNS["bay"].search(place):
        return "public"   # a parking bay ("B1-023") is in the car park, whoever owns it
    if place and not _has_room(place) and (
            any(word in place for word in _PUBLIC_WORDS)
            # A basement level is common parts, its private storerooms aside ("负一楼储藏室").
            or (_TOKEN_PATTERNS["basement"].search(place) and not any(word in place for word in _PRIVATE_ROOMS))):
        return "public"
    blob = fold(f"{location or ''} {text}").lower()
    blob = _mask_spans(blob, [(s, e) for s, e, _ in _phone_spans(blob)])
    if _has_room(blob) or any(word in blob for word in _HOME_WORDS):
        return "unit"
    if any(word in blob for word in _PUBLIC_WORDS):
        return "public"
    # "卫生间漏水" with no other hint: a private room is most likely the resident's own.
    if any(word in blob for word in _PRIVATE_ROOMS):
        return "unit"
    return None


# --- location normalization ----------------------------------------------------------------------

_PUNCTUATION_OR_SPACE = re.compile(r"[\s\W_]+")
# (pattern, replacement or None for "Chinese numeral to digits"), applied in order.
_SPOKEN_DIGITS = str.maketrans(_LOCATION["spoken_digits"], _LOCATION["spoken_digit_values"])


def _arabic(match: re.Match) -> str:
    value = cn_int(match.group(1))
    return f"{value}{match.group(2)}" if value is not None else match.group()


def _spoken_digits(match: re.Match) -> str:
    return match.group(1).translate(_SPOKEN_DIGITS)


_NORMALIZE = tuple((re.compile(step["pattern"]), _arabic if step.get("numerals")
                    else _spoken_digits if step.get("digits") else step["replace"])
                   for step in _LOCATION["normalize"])


def building_of(location: str) -> str:
    """The building a place is in, as its comparison key ("3号楼2单元1502" -> "3栋"); "" when none is named."""
    key = normalize_location(location)
    match = _TOKEN_PATTERNS["building"].search(key)
    return normalize_location(match.group()) if match else ""


def normalize_location(location: str) -> str:
    """Key for duplicate comparison: "3号楼2单元1502室" == "3栋2单元1502" == "３幢２单元１５０２"."""
    text = unicodedata.normalize("NFKC", fold(location or "")).upper().strip()
    for step, replacement in _NORMALIZE:
        text = step.sub(replacement, text)
    text = text.replace(_POSSESSIVE, "")
    return _PUNCTUATION_OR_SPACE.sub("", text)


# --- the whole message -------------------------------------------------------------------------

# "物业你好，报修：" in front of the fault is neither fault nor field.
_OPENING = re.compile(pattern(_MESSAGE, "opening"), re.IGNORECASE)
_VISIT_CUE_AFTER = re.compile(pattern(_VISIT, "cue_after"))
_VISIT_CUE_BEFORE = re.compile(pattern(_VISIT, "cue_before"))
_FUTURE_DAYS = set(_VISIT["future_days"])
_NEXT = _VISIT["next_marker"]
_AFTER = set(_VISIT["after"])
# Clauses end at masks and sentence punctuation; spaces stay inside ("hidden camera 坏了").
_CLAUSE_BREAK = re.compile(r"[\x00,，。!！?？;；\n]+|(?<!\d)\.(?!\d)")
_CLAUSE_EDGES = " \t\r\n:：、~～…-"
_FILLER = re.compile(pattern(_MESSAGE, "filler"))


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = _MASK * (end - start)
    return "".join(chars)


def _visit_accepted(masked: str) -> Callable[[re.Match], bool]:
    """Only a time the resident offers for the visit, not when the fault started ("今天早上开始漏水")."""
    def accept(match: re.Match) -> bool:
        day = match.group("day") or ""
        return bool(
            _VISIT_CUE_AFTER.match(masked, match.end())
            or _VISIT_CUE_BEFORE.search(masked, 0, match.start())
            or day in _FUTURE_DAYS or day.startswith(_NEXT) or match.group("month")
            or match.group("suffix") in _AFTER
        )
    return accept


def _visit_span_with_cue(masked: str, start: int, end: int) -> tuple[int, int]:
    """Widen the visit phrase over "麻烦…" before it and "…在家" / "…来修吧" after it."""
    before = _VISIT_CUE_BEFORE.search(masked, 0, start)
    if before:
        start = before.start()
    tail = re.match(r"[^\s,，.。!！?？;；\x00]{1,8}", masked[end:])
    cue = _VISIT_CUE_AFTER.match(tail.group()) if tail else None
    if cue:
        # Only the cue goes with the time: "明天来看看厨房下水" keeps "看看厨房下水" as the fault.
        end += cue.end()
    return start, end


def _describe(text: str, masked: str) -> str | None:
    """What is left of the original text once every extracted span is gone, as its fault-like clauses."""
    remaining = "".join(_MASK if m == _MASK else ch for ch, m in zip(text, masked))
    kept = []
    for clause in _CLAUSE_BREAK.split(remaining):
        clause = clause.strip(_CLAUSE_EDGES).lstrip(_POSSESSIVE).strip(_CLAUSE_EDGES)
        if _fault_like(clause):
            kept.append(clause)
    return "，".join(kept) or None


def _fault_like(piece: str) -> bool:
    if not piece or is_meaningless(piece) or is_greeting(piece):
        return False
    rest = _FILLER.sub("", piece)
    return any(unicodedata.category(ch).startswith("L") for ch in rest)


def extract(text: str, now: datetime) -> Extracted:
    """Every BR-2 field one message gives away; the visit time only when offered as one."""
    folded = fold(text or "")
    phones = _phone_spans(folded)
    masked = _mask_spans(folded, [(_label_start(folded, s), e) for s, e, _ in phones])
    phone = next((digits for _, _, digits in phones if digits), None)
    phone_invalid = next((folded[s:e].strip() for s, e, digits in phones if digits is None), None)
    area_text = masked

    masked = _mask_spans(masked, [_OPENING.match(masked).span()])

    name = None
    found_name = _find_name(masked)
    if found_name:
        start, end, name = found_name
        at = masked.find(name, start, end)
        name = (text or "")[at:at + len(name)]   # as written (陳太), not as folded for matching
        masked = _mask_spans(masked, [(start, end)])

    visit_text, visit_at = None, None
    visit = find_visit(masked, now, accept=_visit_accepted(masked))
    if visit:
        visit_text, visit_at = text[visit.span[0]:visit.span[1]].strip(), visit.start
        masked = _mask_spans(masked, [_visit_span_with_cue(masked, *visit.span)])

    location, best = _location_in(text or "", masked)
    if best is not None:
        # Only the best run leaves the description: a second mention often names the fault's object too
        # ("…的自行车棚顶棚有个洞").
        lead_in = _LEAD_IN.search(masked, 0, best.start)
        masked = _mask_spans(masked, [(lead_in.start() if lead_in else best.start, best.mask_end)])

    return Extracted(
        location=location, area=infer_area(location, area_text), phone=phone, phone_invalid=phone_invalid,
        name=name, description=_describe(text or "", masked), visit_text=visit_text, visit_at=visit_at,
    )


def _label_start(text: str, phone_start: int) -> int:
    """Start of "电话：" / "手机号 " right before a phone, so the label leaves with the number."""
    label = _LABEL_BEFORE.search(text, 0, phone_start)
    return label.start() if label else phone_start
