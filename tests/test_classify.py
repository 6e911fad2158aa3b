"""BR-5 category and BR-8 trade classification from the rules table, and loading of that table."""
from __future__ import annotations

import pytest

from conversations.classify import TRADES, Classification, classify, load_rules


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.mark.parametrize("description", [
    "厨房水管爆了", "爆管了", "卫生间漏水严重", "整栋楼停电了", "家里没电了", "突然断电", "电梯困人", "有人被困在电梯里",
    "配电箱冒烟", "楼道着火了", "地下车库起火", "闻到很浓的煤气味", "燃气味很重", "燃气管漏气", "电梯井进水",
    "水箱溢水", "车库水淹了", "楼上跑水", "插座有烧焦的味道", "插座漏电", "电线短路",
])
def test_br5_emergency_keywords(description, rules):
    assert classify(description, rules).category == "emergency"


@pytest.mark.parametrize("description", [
    "燃气热水器打不着火了",   # 打不着火 is an ignition fault, not a fire
    "烟感灯一直闪",           # the smoke detector's LED, not smoke
    "厨房水龙头漏水",         # plain leaks are daily
    "墙面渗水",
    "马桶进水阀坏了",
    "门禁卡没电了",
    "卧室门锁坏了",
    "",
])
def test_br5_daily_despite_similar_words(description, rules):
    assert classify(description, rules).category == "daily"


@pytest.mark.parametrize("description, trade", [
    ("电梯按钮失灵", "elevator"),          # 电梯 before 电
    ("有人被困在里面", "elevator"),
    ("单元门门禁刷卡没反应", "weak_current"),  # 门禁 before 门
    ("烟感灯一直闪", "fire"),               # 烟感 before 灯
    ("消火栓箱门关不上", "fire"),
    ("监控摄像头黑屏", "weak_current"),
    ("空调外机声音很响", "hvac"),
    ("地暖不热", "hvac"),
    ("客厅的灯不亮", "electrical"),
    ("插座没电", "electrical"),
    ("电梯厅的灯不亮", "electrical"),        # the elevator rule excludes 电梯厅
    ("下水管堵了", "plumbing"),
    ("洗手盆下面的软管渗水", "plumbing"),
    ("燃气热水器打不着火了", "plumbing"),
    ("窗户玻璃裂了", "doors_windows"),      # 窗 before civil's 裂
    ("入户门锁坏了", "doors_windows"),
    ("卫生间吊顶掉了一块", "civil"),
    ("外墙瓷砖脱落", "civil"),
    ("不知道什么东西一直响", "other"),
    ("", "other"),
])
def test_br8_trade_first_matching_rule_wins(description, trade, rules):
    assert classify(description, rules).trade == trade


def test_classification_is_frozen_and_trades_known(rules):
    result = classify("水管爆了", rules)
    assert result == Classification("emergency", "plumbing")
    with pytest.raises(AttributeError):
        result.trade = "other"  # type: ignore[misc]
    assert {rule.trade for rule in rules.trades} <= set(TRADES)


def test_matching_ignores_width_and_case(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[category]\nemergency = ["UPS"]\n[[trade]]\nname = "weak_current"\nkeywords = ["wifi"]\n',
                    encoding="utf-8")
    rules = load_rules(path)
    assert classify("机房ｕｐｓ报警，WiFi断了", rules) == Classification("emergency", "weak_current")


def test_operator_file_replaces_packaged_rules(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(
        '[category]\nemergency = ["漏水"]\nemergency_exclusions = []\n'
        '[[trade]]\nname = "civil"\nkeywords = ["漏水"]\n',
        encoding="utf-8",
    )
    assert classify("厨房漏水", load_rules(str(path))) == Classification("emergency", "civil")


@pytest.mark.parametrize("content, problem", [
    ("[category\nemergency = [", "not valid TOML"),
    ('[[trade]]\nname = "civil"\nkeywords = ["墙"]\n', "[category]"),
    ('[category]\nemergency = ["爆"]\n', "[[trade]]"),
    ('[category]\nemergency = "爆"\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\n', "'emergency'"),
    ('[category]\nemergency = ["爆", ""]\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\n', "non-empty"),
    ('[category]\nemergency = ["爆"]\n[[trade]]\nname = "carpentry"\nkeywords = ["木"]\n', "carpentry"),
    ('[category]\nemergency = ["爆"]\n[[trade]]\nname = "civil"\n', "'keywords'"),
    ('[category]\nemergency = ["爆"]\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\nkeyword = ["x"]\n', "keyword"),
])
def test_bad_rules_file_raises_value_error_naming_problem(tmp_path, content, problem):
    path = tmp_path / "rules.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as excinfo:
        load_rules(path)
    assert problem in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_missing_rules_file_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_rules(tmp_path / "absent.toml")


def test_overflowing_water_is_an_emergency():
    """BR-5 flooding: 水漫出来了 seen in the simulator demo was filed as daily."""
    from conversations.classify import classify, load_rules
    assert classify("马桶堵了，水漫出来了", load_rules(None)).category == "emergency"
