"""The supervisors' console (/admin/) as staff meet it in a real Chromium against a zero-configuration `repairbot
serve`: passwords set with `repairbot passwd` (the demo cast has none built in), sign in, filter, open a ticket
with its photo and timeline, reassign it, print the 工程维修单, read the monthly report and its XLSX; a
technician kept to their own jobs and out of the reports; a form without its CSRF token refused; five wrong
passwords locking the login."""
from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess
import sys
import urllib.request
import zlib

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, screenshot

PASSWORD = "demo console 2026"
SUPERVISOR, PLUMBER, ELECTRICIAN = "13800000009", "13800000001", "13800000003"
DESK = {"width": 1360, "height": 900}


def passwd(cwd, who: str, password: str = PASSWORD) -> None:
    """`python -m bot passwd WHO --password-stdin` on the serving process's own database (its working directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRBOT_") or k.startswith("REPAIRBOT_TEST_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "bot", "passwd", who, "--password-stdin"], cwd=cwd, env=env,
                          input=password + "\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def say(url: str, user: str, text: str | None = None, image: bytes | None = None) -> list[str]:
    body: dict = {"user": user}
    if text is not None:
        body["text"] = text
    if image is not None:
        body["image_b64"] = base64.b64encode(image).decode()
    req = urllib.request.Request(url + "/sim/api/say", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return [reply["text"] for reply in json.load(r)["replies"]]


def report(url: str, user: str, lines: list[str], image: bytes | None = None) -> str:
    say(url, user, lines[0])
    if image is not None:
        say(url, user, image=image)
    for line in lines[1:]:
        replies = say(url, user, line)
    return re.search(r"BX\d{8}-\d{4}", " ".join(replies)).group(0)


def photo() -> bytes:
    """A 320×240 PNG a resident might send: a pipe along a tiled wall, water spraying from a split."""
    w, h = 320, 240
    rows = []
    for y in range(h):
        row = bytearray([0])
        for x in range(w):
            r, g, b = (236, 232, 224) if (x // 40 + y // 40) % 2 else (226, 222, 214)   # tiles
            if x % 40 == 0 or y % 40 == 0:
                r, g, b = 200, 196, 188                                                # grout
            if 104 <= y <= 136:
                shade = 150 + int(60 * (1 - abs(y - 120) / 16))
                r, g, b = shade - 40, shade - 20, shade                                # the pipe
            dx, dy = x - 170, y - 110
            if dy < 0 and abs(dx) < -dy * 0.8 and (x * 7 + y * 13) % 5 < 3:
                r, g, b = 70, 140, 230                                                 # the spray
            row += bytes((r, g, b))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def sign_in(page, url: str, who: str, password: str = PASSWORD) -> None:
    page.goto(url + "/admin/login")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def press(url: str, user: str, action: str, number: str) -> None:
    req = urllib.request.Request(url + "/sim/api/press", data=json.dumps(
        {"user": user, "payload": f"rb1|{action}|{number}"}).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).close()


def test_a_supervisor_filters_opens_a_ticket_and_reassigns_it(service, page, tmp_path):
    burst = report(service, "resident-1", ["3栋2单元1502卫生间水管爆了", "王女士 13812345678", "确认"], image=photo())
    lamp = report(service, "resident-2", ["5栋大堂的灯不亮了", "陈先生 13700001111", "确认"])
    drip = report(service, "resident-3", ["2栋101阳台水龙头滴水", "孙女士 13600002222", "确认"])
    report(service, "resident-4", ["2号楼电梯困人了", "赵先生 13500003333", "确认"])
    report(service, "resident-5", ["3栋502客厅插座没电", "周女士 13400004444", "确认"])
    press(service, "zhangsan", "accept", drip)                   # 张师傅 takes the drip from his card
    for who in (SUPERVISOR, PLUMBER):
        passwd(tmp_path, who)
    page.set_viewport_size(DESK)

    page.goto(service + "/admin/tickets")
    expect(page).to_have_url(re.compile(r"/admin/login"))          # nothing of the console before signing in
    sign_in(page, service, SUPERVISOR)
    expect(page.locator("#me")).to_contain_text("王主管")
    rows = page.locator("table.tickets tbody tr")
    expect(rows).to_have_count(5)
    page.select_option("select[name=trade]", "plumbing")            # filters submit themselves on change
    expect(rows).to_have_count(2)
    expect(page.locator("table.tickets")).not_to_contain_text(lamp)
    page.select_option("select[name=status]", "dispatched")
    expect(rows).to_have_count(1)
    expect(page.locator("nav.counts")).to_contain_text("已接单 1")

    page.click(f"text={burst}")
    expect(page.locator("h1")).to_have_text(burst)
    img = page.locator(".photos img").first
    expect(img).to_be_visible()
    assert page.evaluate("(el) => el.complete && el.naturalWidth", img.element_handle()) == 320
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("报修")
    expect(timeline).to_contain_text("派给 张师傅、赵师傅")
    expect(page.locator("[data-clock=respond]")).to_contain_text("15 分钟")      # BR-9: an emergency

    form = page.locator("form[data-action=reassign]")
    form.locator("select[name=to]").select_option(label="赵师傅")
    form.locator("button").click()
    expect(page.locator(".flash")).to_contain_text("已执行「改派」")
    expect(page.locator("#assignee")).to_contain_text("赵师傅")
    expect(page.locator("#status")).to_have_text("已接单")
    expect(timeline).to_contain_text("改派")
    expect(timeline).to_contain_text("交给 赵师傅")
    page.set_viewport_size({"width": 1360, "height": 1180})
    screenshot(page, "console-ticket", tmp_path)

    page.click("text=打印维修单")
    expect(page.locator("section.sheet")).to_have_count(4)
    expect(page.locator("[data-copy=finance] .phone")).to_have_text("138****5678")
    expect(page.locator("[data-copy=engineering] .phone")).to_have_text("13812345678")
    page.set_viewport_size({"width": 900, "height": 1280})
    screenshot(page, "console-print", tmp_path)
    page.emulate_media(media="print")
    pdf = tmp_path / "work-order.pdf"
    page.pdf(path=str(pdf), format="A4")
    # One A4 page per copy: each copy is one sheet of the paper form.
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes())) == 4
    page.emulate_media(media="screen")

    page.set_viewport_size(DESK)
    page.goto(service + "/admin/tickets")                         # the desk at a glance, after the change
    expect(rows).to_have_count(5)
    expect(page.locator("nav.counts")).to_contain_text("已接单 2")
    screenshot(page, "console-tickets", tmp_path)

    page.click("header nav >> text=报表")                        # the month's figures, charts and registers
    expect(page.locator("h1")).to_contain_text("工程维修月报")
    expect(page.locator("[data-figure=issued]")).to_have_text("5")
    expect(page.locator("figure.chart svg")).to_have_count(3)
    screenshot(page, "console-dashboard", tmp_path)
    with page.expect_download() as download:
        page.click("#xlsx")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    summary = load_workbook(path)["汇总"]
    cells = [c for row in summary.iter_rows(values_only=True) for c in row if c is not None]
    assert "工程维修单追踪统计表" in load_workbook(path).sheetnames
    assert 5 in cells                                             # the five tickets issued, as the page says
    registers = load_workbook(path)
    numbers = {row[1] for name in ("工程维修单追踪统计表", "工程有偿维修单追踪统计表")
               for row in registers[name].iter_rows(values_only=True) if row and isinstance(row[1], str)
               and row[1].startswith("BX")}
    assert burst in numbers and lamp in numbers and len(numbers) == 5


# A second of AMR-NB as WeCom hands a voice note over: the header, then 50 frames of 12.2 kbit/s.
AMR = b"#!AMR\n" + (b"\x3c" + bytes(range(31))) * 50


def open_as_supervisor(service, page, tmp_path, number: str) -> None:
    """A supervisor signed in on a desk-sized window, on the console page of ticket `number`."""
    passwd(tmp_path, SUPERVISOR)
    page.set_viewport_size(DESK)
    sign_in(page, service, SUPERVISOR)
    page.goto(f"{service}/admin/tickets/{number}")


def test_a_supervisor_finds_the_residents_voice_note_on_the_ticket(service, page, tmp_path):
    """Issue 12: a voice note without a transcript is kept with the report; staff get it from the ticket page."""
    body = {"user": "resident-9", "voice_b64": base64.b64encode(AMR).decode()}
    req = urllib.request.Request(service + "/sim/api/say", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).close()
    open_as_supervisor(service, page, tmp_path, report(
        service, "resident-9", ["5栋1单元302厨房下水道堵了", "李先生 13900001111", "确认"]))
    section = page.locator("#recordings")
    expect(section).to_be_visible()
    expect(section.locator("audio")).to_have_count(1)
    link = section.locator("a[download]")
    expect(link).to_have_text("下载语音 1")
    # The link serves the very recording the resident sent, as audio, to the signed-in supervisor's browser.
    got = page.evaluate("""async (url) => { const r = await fetch(url);
        return [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength]; }""",
                        link.get_attribute("href"))
    assert got == [200, "audio/amr", len(AMR)]
    section.scroll_into_view_if_needed()
    screenshot(page, "console-voice", tmp_path)


def test_a_form_posted_without_its_csrf_token_is_refused(service, page, tmp_path):
    number = report(service, "resident-1", ["3栋2单元1502厨房水龙头漏水", "刘女士 13912345678", "确认"])
    open_as_supervisor(service, page, tmp_path, number)
    form = page.locator("form[data-action=cancel]")
    form.locator("input[name=reason]").fill("住户撤销")
    page.evaluate("() => document.querySelector('form[data-action=cancel] input[name=csrf]').remove()")
    page.once("dialog", lambda d: d.accept())                     # 「确定取消这张工单？」
    form.locator("button").click()
    expect(page.locator(".error")).to_contain_text("安全校验码")
    expect(page.locator(".error .code")).to_have_text("403")
    page.goto(f"{service}/admin/tickets/{number}")
    expect(page.locator("#status")).to_have_text("已派单")        # nothing changed


def test_a_technician_sees_only_their_own_jobs_and_no_finance_view(service, page, tmp_path):
    mine = report(service, "resident-1", ["3栋2单元1502厨房水龙头漏水", "刘女士 13912345678", "确认"])
    other = report(service, "resident-2", ["5栋大堂的灯不亮了", "陈先生 13700001111", "确认"])
    passwd(tmp_path, SUPERVISOR)
    passwd(tmp_path, PLUMBER)
    page.set_viewport_size(DESK)
    sign_in(page, service, SUPERVISOR)                            # the supervisor hands the leak to 张师傅
    page.goto(f"{service}/admin/tickets/{mine}")
    page.locator("form[data-action=reassign] select[name=to]").select_option(label="张师傅")
    page.locator("form[data-action=reassign] button").click()
    expect(page.locator("#assignee")).to_contain_text("张师傅")
    page.click("text=退出")
    expect(page).to_have_url(re.compile(r"/admin/login"))

    sign_in(page, service, PLUMBER)
    expect(page.locator("h1")).to_have_text("我的工单")
    expect(page.locator("table.tickets tbody tr")).to_have_count(1)
    expect(page.locator("table.tickets")).to_contain_text(mine)
    expect(page.locator("header nav")).not_to_contain_text("收费")
    response = page.goto(f"{service}/admin/tickets/{other}")
    assert response.status == 404
    expect(page.locator(".error")).to_contain_text("没有找到")
    expect(page.locator("body")).not_to_contain_text("大堂")
    expect(page.locator("header nav")).not_to_contain_text("报表")
    for path in ("/admin/fees", "/admin/reports/finance", "/admin/reports/monthly?format=xlsx"):
        response = page.goto(service + path)
        assert response.status == 403, path
        expect(page.locator(".error")).to_contain_text("岗位")


def test_five_wrong_passwords_lock_the_login(service, page, tmp_path):
    passwd(tmp_path, ELECTRICIAN)
    page.set_viewport_size(DESK)
    for attempt in range(4):
        sign_in(page, service, ELECTRICIAN, f"wrong password {attempt}")
        expect(page.locator("[role=alert]")).to_contain_text("账号或密码不对")
    sign_in(page, service, ELECTRICIAN, "wrong password 5")
    expect(page.locator("[role=alert]")).to_contain_text("已暂时锁定")
    sign_in(page, service, ELECTRICIAN)                            # the right password, too late
    expect(page.locator("[role=alert]")).to_contain_text("15 分钟后再试")
    expect(page).to_have_url(re.compile(r"/admin/login"))
