"""Pull the BR-2 report fields (area, location, name, phone, description, visit time) out of resident text."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from conversations.textcheck import cn_int, fold_width, is_greeting, is_meaningless
from conversations.visit_time import find_visit

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
_PHONE_LABEL = r"(?:联系电话|联系方式|电话号码|手机号码|手机号|手机|电话|号码|tel|phone)"
_LABELLED_NUMBER = re.compile(rf"(?i){_PHONE_LABEL}[是为:：\s]*(\d[\d\s-]{{3,}}\d)")
_LABEL_BEFORE = re.compile(rf"(?i)(?:(?:我的|我)?{_PHONE_LABEL})[是为:：\s]*$")


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
    for match in _LABELLED_NUMBER.finditer(text):
        if free(*match.span(1)):
            digits = _digits(match.group(1))
            spans.append((*match.span(1), digits if _is_valid_phone(digits) else None))
    return sorted(spans)


def find_phone(text: str) -> tuple[str | None, str | None]:
    """(first valid phone as digits, first phone-looking string that failed validation)."""
    text = fold_width(text)
    spans = _phone_spans(text)
    valid = next((digits for _, _, digits in spans if digits), None)
    invalid = next((text[s:e].strip() for s, e, digits in spans if digits is None), None)
    return valid, invalid


def normalize_phone(text: str) -> str | None:
    """The whole answer is one phone number (spaces, dashes, brackets, +86, a label tolerated) -> digits."""
    answer = re.sub(rf"(?i)^\s*(?:我的)?{_PHONE_LABEL}?[是为:：\s]*", "", fold_width(text or ""))
    answer = answer.strip(" \t\r\n。.,，!！")
    if not re.fullmatch(r"\+?[\d\s()（）-]+", answer):
        return None
    digits = _digits(answer)
    return digits if _is_valid_phone(digits) else None


# --- names --------------------------------------------------------------------------------------

# Common surnames: a title is only a name after one ("我先生" is a husband, "请师傅来" is nobody).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向"
    "汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑"
    "景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝"
)
_SURNAME = r"(?:欧阳|司马|上官|诸葛|东方|皇甫|慕容|令狐|司徒|夏侯|尉迟|长孙|宇文|[" + _SURNAMES + "])"
# 姐 / 哥 / 叔 as residents sign off ("王姐"); 生, 工 and 总 are not, they make "卫生", "施工", "关总阀".
_TITLE = r"(?:女士|先生|小姐|阿姨|太太|姐|哥|叔)"
_CJK = r"\u4e00-\u9fff"
_NAME_END = rf"(?=$|[^{_CJK}]|的|在|住|电话|手机|联系|号码)"
_TITLED = re.compile(rf"{_SURNAME}{_TITLE}|(?<![A-Za-z])(?:Mrs|Mr|Ms|Miss)\.? ?[A-Z][a-z]+(?![A-Za-z])")
_LABELLED_NAME = re.compile(
    rf"(?:联系人|姓名|名字|称呼)[是为:：\s]*"
    rf"(?P<name>{_SURNAME}{_TITLE}|[{_CJK}·]{{2,4}}?{_NAME_END}|[A-Za-z][A-Za-z .]{{0,18}}[A-Za-z])"
)
_SELF_NAMED = re.compile(rf"我(?:是|叫)(?P<name>{_SURNAME}[{_CJK}]{{1,2}}?){_NAME_END}")
_SURNAME_ONLY = re.compile(rf"(?:我|免贵|(?<![{_CJK}]))姓(?P<name>{_SURNAME})")
_NAME_LEAD = re.compile(r"(?:联系人|姓名|名字|称呼|我是|我叫)[是为:：\s]*$")
_NAME_ANSWER_PREFIX = re.compile(r"^(?:我是|我叫|我姓|叫我|姓名|名字|联系人|称呼)[是为:：\s]*")
_NOT_A_NAME = {"不知道", "不想说", "不告诉你", "保密", "没有", "无", "不用", "算了", "业主", "住户"}


def _find_name(text: str) -> tuple[int, int, str] | None:
    """(start, end, name): a titled surname, then a labelled name, then 我是/我叫, then 我姓."""
    for pattern in (_TITLED, _LABELLED_NAME, _SELF_NAMED, _SURNAME_ONLY):
        match = pattern.search(text)
        if match:
            name = match.group("name") if "name" in pattern.groupindex else match.group()
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

_NUMERAL = r"(?:\d{1,3}|[一二三四五六七八九十两]{1,3})"
# Site-wide places can be found without a building; building places and private rooms cannot.
_SITE_PLACES = (
    # Named buildings that are places of their own.
    "综合楼", "物业楼", "办公楼", "商业楼", "商业街", "幼儿园", "门卫室", "垃圾房", "配套楼",
    "中心花园", "花园", "地下车库", "地下停车场", "地面停车场", "停车场", "车库", "地库", "中心广场", "广场",
    "地下配电房", "地下水泵房", "地下泵房", "小区大门", "大门口", "东门口", "南门口", "西门口", "北门口", "正门口", "大门", "东门", "南门", "西门", "北门", "正门", "会所", "物业中心", "物业办公室", "游泳池",
    "泳池", "儿童乐园", "游乐场", "健身房", "垃圾站", "岗亭", "篮球场", "网球场", "喷泉", "配电房", "水泵房",
    "泵房", "消防控制室", "监控室",
)
_BUILDING_PLACES = (
    "大堂", "大厅", "门厅", "走廊", "过道", "楼道", "电梯厅", "电梯间", "电梯口", "电梯前室", "楼梯间",
    "楼梯口", "楼顶", "屋顶", "天台", "架空层", "弱电间", "强电间", "配电间", "管道井", "设备层", "设备间",
    "消防通道", "安全通道", "入口", "出口", "门口", "连廊", "电梯井", "地下室", "设备房", "机房", "管井", "顶楼",
    "强电井", "弱电井",
)
_PRIVATE_ROOMS = (
    "卫生间", "洗手间", "厕所", "主卫", "客卫", "次卫", "男卫", "女卫", "厨房", "书房", "主卧", "次卧", "卧室",
    "客厅", "餐厅", "阳台", "露台", "储藏室", "储物间", "衣帽间", "玄关",
)
_MODIFIERS = ("旁边", "附近", "边上", "对面", "外面", "里面", "那边", "这边", "前面", "后面", "楼下", "楼上")


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_TOKEN_PATTERNS = {
    "hyphen": re.compile(r"(?<![\d-])\d{1,3}-\d{1,2}-\d{3,4}(?![\d-])"),
    "building": re.compile(
        rf"(?<![\dA-Za-z])第?(?:[A-Za-z]{{1,2}}\d{{0,2}}|\d{{1,3}}[A-Za-z]?|{_NUMERAL})(?:号楼|号院|栋|幢|座)"
        r"|(?<![\dA-Za-z#])\d{1,3}#楼?"
        # Estates with English names: "Tower A", "Block 3", "Bldg 2".
        r"|(?i:tower|block|building|bldg|blk)\s?(?:[A-Za-z]|\d{1,3})(?![\dA-Za-z])"
    ),
    "phase": re.compile(rf"(?<![\dA-Za-z])(?:[A-Za-z]|{_NUMERAL})期"),
    "unit": re.compile(rf"(?<!\d)(?:{_NUMERAL}|[东西南北中])单元"),
    # "3栋2-1502": unit and room after a building.
    "unit_room": re.compile(r"(?<![\d-])\d{1,2}-\d{3,4}(?![\d-])"),
    "floor": re.compile(
        rf"(?<![\dA-Za-z])(?:(?:负|地下){_NUMERAL}(?:层|楼)?|{_NUMERAL}(?:层|楼(?![上下])|[Ff](?![A-Za-z]))|[Bb][1-4](?!\d)层?)"
    ),
    "room": re.compile(r"(?<![\d:.-])\d{3,4}(?![\d:：.\-年月日点时分秒元块岁个次天度米多%A-Za-z])(?:室|号(?![楼院])|房间|房)?"),
    "room_en": re.compile(r"(?i:unit|room|flat|rm)\.?\s?\d{3,4}(?!\d)"),
    "zone": re.compile(rf"(?<![\dA-Za-z])(?:[A-Za-z]|{_NUMERAL}|[东南西北中])区(?!域)"),
    "site": re.compile(_alternation(_SITE_PLACES)),
    "place": re.compile(_alternation(_BUILDING_PLACES)),
    "private": re.compile(_alternation(_PRIVATE_ROOMS)),
}
_DASHED_ROOM = re.compile(r"(?:\d{1,2}-)?\d{3,4}(?![\d-])")
_BUILDING_DASH_ROOM = re.compile(r"(?:栋|幢|座|号楼|#)-(?:\d{1,2}-)?\d{3,4}(?![\d-])")
_MODIFIER = re.compile(rf"的?(?:{_alternation(_MODIFIERS)})")
_STRUCTURAL = {"hyphen", "building", "unit", "floor", "room", "room_en", "phase", "unit_room"}
_SCORE = {"hyphen": 12, "building": 10, "room": 5, "room_en": 5, "unit_room": 7, "site": 4, "unit": 2, "floor": 1, "zone": 2,
          "place": 1, "private": 1, "phase": 1}
_LEAD_IN = re.compile(r"(?:我家(?:住)?在|我(?:住)?在|住在|地址(?:是|在)?[:：]?|位置(?:是|在)?[:：]?|在)\s*$")


@dataclass(frozen=True)
class _Run:
    start: int
    end: int
    kinds: tuple[str, ...]

    @property
    def findable(self) -> bool:
        # A room alone or "卫生间" alone cannot be found; a building, a zone or a site-wide place can.
        return bool({"hyphen", "building", "site", "zone"} & set(self.kinds))

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
    token = _token_at(text, pos)
    if token:
        return token
    if text.startswith("的", pos):
        # "1502的卫生间": 的 only joins when a place follows.
        token = _token_at(text, pos + 1)
        return token if token and token[0] in {"site", "place", "private", "zone", "building"} else None
    if text.startswith("-", pos) and last_kind == "building":
        # "3栋-1502": the room pattern refuses a leading dash (dates, phones), a building vouches for it here.
        room = _DASHED_ROOM.match(text, pos + 1)
        return ("room", room.end()) if room else None
    if text[pos:pos + 1] in {" ", ",", "，"} and last_kind in _STRUCTURAL:
        # "3栋 2单元 1502" / "3栋，1202室": a separator only joins building parts.
        token = _token_at(text, pos + 1)
        return token if token and token[0] in _STRUCTURAL - {"hyphen"} else None
    return None


def _runs(text: str) -> list[_Run]:
    runs: list[_Run] = []
    pos = 0
    while pos < len(text):
        token = _token_at(text, pos)
        if token is None:
            pos += 1
            continue
        start, kinds, end = pos, [token[0]], token[1]
        while (token := _next_token(text, end, kinds[-1])) is not None:
            kinds.append(token[0])
            end = token[1]
        modifier = _MODIFIER.match(text, end)
        if modifier:
            end = modifier.end()
        runs.append(_Run(start, end, tuple(kinds)))
        pos = end
    return runs


def _best_run(text: str) -> _Run | None:
    findable = [run for run in _runs(text) if run.findable]
    # max() keeps the first of equal scores: the earliest mention wins a tie.
    return max(findable, key=lambda run: run.score, default=None)


def parse_location_answer(text: str) -> str | None:
    """Answer to "where is it?": the findable location in it, or None ("家里", "这里", "不知道", "楼上")."""
    folded = fold_width(text or "")
    run = _best_run(_mask_spans(folded, [(s, e) for s, e, _ in _phone_spans(folded)]))
    return (text[run.start:run.end].strip()) if run else None


# --- area ---------------------------------------------------------------------------------------

_HOME_WORDS = ("我家", "家里", "家中", "屋里", "屋子", "室内", "户内", "房子")
_PUBLIC_WORDS = (
    *_SITE_PLACES, *_BUILDING_PLACES, "电梯", "扶梯", "单元门", "门禁", "路灯", "道闸", "公共", "公区", "绿化",
    "草坪", "外墙", "小区",
    # Men's/women's restrooms exist only in common parts of office and mall buildings.
    "男卫", "女卫", "男厕", "女厕", "公卫", "公共卫生间",
)


def _has_room(text: str) -> bool:
    return (any(_TOKEN_PATTERNS[kind].search(text) for kind in ("hyphen", "room", "unit_room", "room_en"))
            or bool(_BUILDING_DASH_ROOM.search(text)))


def infer_area(location: str | None, text: str = "") -> str | None:
    """BR-2 area: "unit" for a room number or 我家/家里, "public" for common parts, else None."""
    blob = fold_width(f"{location or ''} {text}")
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


def _arabic(match: re.Match) -> str:
    value = cn_int(match.group(1))
    return f"{value}{match.group(2)}" if value is not None else match.group()


def normalize_location(location: str) -> str:
    """Key for duplicate comparison: "3号楼2单元1502室" == "3栋2单元1502" == "３幢２单元１５０２"."""
    text = unicodedata.normalize("NFKC", location or "").upper()
    text = re.sub(r"^(\d{1,3})-(\d{1,2})-(\d{3,4})", r"\1栋\2单元\3", text.strip())
    text = re.sub(r"([一二三四五六七八九十两]{1,3})(号楼|栋|幢|座|单元|层|楼)", _arabic, text)
    text = re.sub(r"第(?=\d)", "", text)
    text = re.sub(r"(?<=\d)(?:号楼|幢|栋|#楼|#)", "栋", text)
    text = re.sub(r"(?<=栋)-?(\d{1,2})-(\d{3,4})", r"\1单元\2", text)   # "3栋2-1502" is unit 2, room 1502
    text = re.sub(r"(?<=栋)-(?=\d{3,4})", "", text)
    text = re.sub(r"(?:地下|负)(\d{1,2})(?:层|楼)?", r"B\1层", text)
    text = re.sub(r"(?<![A-Z\d])B(\d)(?!\d)层?", r"B\1层", text)
    text = re.sub(r"(?<=\d)(?:层|楼|F)(?![A-Z])", "层", text)
    text = re.sub(r"(?<=\d)(?:室|号|房间|房)(?=\D|$)", "", text)
    text = text.replace("的", "")
    return _PUNCTUATION_OR_SPACE.sub("", text)


# --- the whole message -------------------------------------------------------------------------

# "物业你好，报修：" in front of the fault is neither fault nor field.
_OPENING = re.compile(
    r"^\s*(?:(?:物业|管家|客服|师傅)?(?:你好|您好|你们好|在吗|在不在|哈喽|hello|hi)(?![A-Za-z])[啊呀]?[\s,，.。!！~～]*)*"
    r"(?:(?:我要|我想|我需要|需要)?报修(?:一下)?(?:内容)?[:：,，\s]*)?",
    re.IGNORECASE,
)
_VISIT_CUE_AFTER = re.compile(
    r"^[\s,，]*(?:以后|之后)?(?:我|家里|都|也|均)*(?:在家|有人|有空|有时间|方便|可以|来|上门|过来|维修|修|行)"
)
_VISIT_CUE_BEFORE = re.compile(r"(?:希望|麻烦|请|最好|尽量|预约|安排|时间)[是在:：\s]*$")
_FUTURE_DAYS = {"明天", "明日", "后天", "大后天", "明早", "明晚", "明晨"}
# Clauses end at masks and sentence punctuation; spaces stay inside ("hidden camera 坏了").
_CLAUSE_BREAK = re.compile(r"[\x00,，。!！?？;；\n]+|(?<!\d)\.(?!\d)")
_CLAUSE_EDGES = " \t\r\n:：、~～…-"
_FILLER = re.compile(
    r"你好|您好|在吗|请问|我要报修|我想报修|报修|麻烦|谢谢|谢了|辛苦|尽快|快点|师傅|一下|在家|有人|我家|"
    r"可以|好的|业主|住户|租户|[啊呀吧哦嗯了的我请快来修都行好是还也就呢哈嘛啦吗]|ok|OK"
)


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
            or day in _FUTURE_DAYS or day.startswith("下") or match.group("month")
            or match.group("suffix") in {"后", "以后", "之后"}
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
        clause = clause.strip(_CLAUSE_EDGES).lstrip("的").strip(_CLAUSE_EDGES)
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
    folded = fold_width(text or "")
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
        masked = _mask_spans(masked, [(start, end)])

    visit_text, visit_at = None, None
    visit = find_visit(masked, now, accept=_visit_accepted(masked))
    if visit:
        visit_text, visit_at = text[visit.span[0]:visit.span[1]].strip(), visit.start
        masked = _mask_spans(masked, [_visit_span_with_cue(masked, *visit.span)])

    location = None
    run = _best_run(masked)
    if run:
        location = text[run.start:run.end].strip()
        lead_in = _LEAD_IN.search(masked, 0, run.start)
        masked = _mask_spans(masked, [(lead_in.start() if lead_in else run.start, run.end)])

    return Extracted(
        location=location, area=infer_area(location, area_text), phone=phone, phone_invalid=phone_invalid,
        name=name, description=_describe(text or "", masked), visit_text=visit_text, visit_at=visit_at,
    )


def _label_start(text: str, phone_start: int) -> int:
    """Start of "电话：" / "手机号 " right before a phone, so the label leaves with the number."""
    label = _LABEL_BEFORE.search(text, 0, phone_start)
    return label.start() if label else phone_start
