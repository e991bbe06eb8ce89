#!/usr/bin/env python3
"""The dashboard in headless Chromium (Debian's, through Debian's chromedriver) against a running Bazaar.

Run by scripts/dashboard-test.sh, which starts the binary on a small demo chain. Checks, against what the API
answers for the same key:
  - the chain overview lists every store with its counts, ranked by stock-outs, and filters by an attribute;
  - a store's view shows product names (not ids) and a status for each item, and its alerts grouped by item;
  - an item's view draws an SVG chart with a point for each movement and the threshold lines;
  - a movement and a count recorded through the forms change the level shown (and in the API);
  - a refused action (a damage larger than the stock) shows the problem's `detail`;
  - an alert acknowledged from the store view is acknowledged in the API;
  - a tablet-sized window has no page-wide horizontal scroll; no unexpected console error.
Screenshots (PNG) of each view go to --screenshots. Only loopback is contacted.
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

parser = argparse.ArgumentParser()
parser.add_argument("--base", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--screenshots", required=True)
args = parser.parse_args()
BASE, KEY, SHOTS = args.base.rstrip("/"), args.key, args.screenshots
assert BASE.startswith("http://127.0.0.1:"), "only loopback"

failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)
    return condition


def call(method, path, body=None):
    """The API with the same key: (status, parsed body)."""
    request = urllib.request.Request(BASE + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_until(condition, seconds=15, message="condition", detail=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception:  # noqa: BLE001 - elements re-rendered under us: try again
            pass
        time.sleep(0.1)
    seen = ""
    if detail:
        try:
            seen = f" (saw {detail()!r})"
        except Exception as error:  # noqa: BLE001
            seen = f" ({error!r})"
    raise AssertionError("timed out waiting for " + message + seen)


# The demo's thresholds and alerts are computed in the background after start: wait until every item is evaluated.
def evaluated():
    status, page = call("GET", "/v1/overview?limit=100")
    return status == 200 and page["items"] and all(s["without_thresholds"] == 0 for s in page["items"]) \
        and sum(s["open_alerts"] for s in page["items"]) > 0


wait_until(evaluated, 120, "the stock intelligence to evaluate the demo chain")
# Stock-outs to rank by: counts of zero, three in one store and one in another (facts: always recorded), on top of any
# the demo's history left.
_, first_page = call("GET", "/v1/overview?limit=100")
store_ids = sorted(s["store_id"] for s in first_page["items"])
for store_id, n in [(store_ids[-1], 3), (store_ids[-2], 1)]:
    items = call("GET", f"/v1/stores/{store_id}/items?limit=1000")[1]["items"]
    for item in [i for i in items if i["quantity"] > 0][:n]:
        assert call("POST", f"/update-stock/{store_id}/{item['product_id']}", {"quantity": 0, "reference": "dash-test"})[0] == 200


def settled():
    """The overview once the alerts the demo and those counts raise have stopped changing."""
    before = call("GET", "/v1/overview?limit=100")[1]
    time.sleep(1.5)
    after = call("GET", "/v1/overview?limit=100")[1]
    return after if before == after else None


overview = wait_until(settled, 60, "the alerts to settle")
stores = {s["store_id"]: s for s in overview["items"]}

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1366,900",
             "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
             "--disable-client-side-phishing-detection", "--metrics-recording-only", "--safebrowsing-disable-auto-update",
             "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
             # Every host name but loopback fails to resolve: the page (and the browser) can reach nothing else.
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
             # Anything else would go through a proxy that is not there (loopback stays direct, as by default).
             "--proxy-server=http://127.0.0.1:9"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
driver.implicitly_wait(0)


def shot(name):
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    print("     screenshot " + path)


def css(selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def row_texts(product):
    """The cells of an item's row in the store view, read in one script (a live refresh may redraw the table)."""
    return driver.execute_script(
        "const r = document.querySelector(`#items-table tbody tr[data-product='${arguments[0]}']`);"
        "return r ? [...r.querySelectorAll('td')].map(c => c.textContent.replace(/,/g, '')) : [];", product)


def text_of(element_id):
    """An element's text, read in one script (a live refresh may redraw the view between two WebDriver calls)."""
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;", element_id)


def fill(element_id, value):
    """Types into a field, again if a live refresh redrew the view meanwhile (the page defers its refresh while a
    field holding text has the focus, so once typed, it stays)."""
    def attempt():
        field = driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)
        return driver.execute_script("return document.getElementById(arguments[0]).value", element_id) == value
    wait_until(attempt, message="typing into " + element_id)


def choose(element_id, value):
    def attempt():
        Select(driver.find_element(By.ID, element_id)).select_by_value(value)
        return driver.execute_script("return document.getElementById(arguments[0]).value", element_id) == value
    wait_until(attempt, message="choosing in " + element_id)


def click_css(selector):
    """Clicks the element a selector finds, again if a live refresh redrew the view meanwhile."""
    def attempt():
        driver.find_element(By.CSS_SELECTOR, selector).click()
        return True
    wait_until(attempt, message="clicking " + selector)


def click(element_id):
    def attempt():
        driver.find_element(By.ID, element_id).click()
        return True
    wait_until(attempt, message="clicking " + element_id)


def notice():
    element = driver.find_element(By.ID, "notice")
    return element.get_attribute("class"), element.text


try:
    # ---- chain overview ----
    driver.get(BASE + "/#key=" + KEY)
    wait_until(lambda: len(css("#chain-table tbody tr[data-store]")) == len(stores), message="the chain overview")
    check("key=" not in driver.current_url, "the key leaves the address bar once read")
    rows = css("#chain-table tbody tr[data-store]")
    shown = [r.get_attribute("data-store") for r in rows]
    check(sorted(shown) == sorted(stores), f"the overview lists every store ({len(shown)})")
    outs = [int(r.find_element(By.CSS_SELECTOR, ".c-out b").text.replace(",", "")) for r in rows]
    # The demo's own history can leave an item at zero too (it depends on the day the demo is made): the counts are
    # the API's, with the three zeros set above at least in the top one.
    api_outs = [stores[s]["stock_outs"] for s in shown]
    check(outs == api_outs and outs == sorted(outs, reverse=True) and outs[0] >= 3, f"ranked by stock-outs {outs} (the API's {api_outs})")
    check(stores[shown[0]]["stock_outs"] == max(s["stock_outs"] for s in stores.values()), f"the store with the most stock-outs first ({shown[0]})")
    first = stores[shown[0]]
    cells = rows[0].find_element(By.CSS_SELECTOR, ".c-risk").text.strip(), rows[0].find_element(By.CSS_SELECTOR, ".c-alerts").text.strip()
    check(cells == (str(first["at_risk"]), str(first["open_alerts"])), f"the top store's at-risk and alert counts are the API's {cells}")
    totals = driver.find_element(By.ID, "chain-totals").text
    check(str(sum(s["open_alerts"] for s in stores.values())) in totals, "the totals add the open alerts up")
    # The trend of each store: a line drawn from the API's own numbers (its label names their total and today's).
    trend_store = max(stores.values(), key=lambda s: sum(s["trend"]["units"]))
    check(sum(trend_store["trend"]["units"]) > 0 and len(trend_store["trend"]["units"]) == 15,
          f"the overview carries 15 days of sales per store ({trend_store['store_id']}: {trend_store['trend']})")
    spark = driver.find_element(By.CSS_SELECTOR, f"#chain-table tr[data-store='{trend_store['store_id']}'] svg.spark")
    label = spark.get_attribute("aria-label")
    total_units = sum(trend_store["trend"]["units"])
    check(f"{total_units:,} in all" in label and spark.find_elements(By.CSS_SELECTOR, "path"),
          f"each store's sales trend is drawn, labelled with the API's total ({label!r})")
    shot("1-chain-overview")
    city = Select(driver.find_element(By.CSS_SELECTOR, "select[data-attr=city]"))
    some_city = city.options[1].get_attribute("value")
    city.select_by_value(some_city)
    expected = sorted(s for s, v in stores.items() if v["attributes"].get("city") == some_city)
    filtered = sorted(r.get_attribute("data-store") for r in css("#chain-table tbody tr[data-store]"))
    check(filtered == expected, f"the city filter ({some_city}) keeps {expected}")
    Select(driver.find_element(By.CSS_SELECTOR, "select[data-attr=city]")).select_by_value("")

    # ---- store view: the store with the most alerts ----
    target = max(stores.values(), key=lambda s: (s["open_alerts"], s["stock_outs"], s["at_risk"]))["store_id"]
    click_css(f"tr[data-store='{target}'] a.store-link")
    wait_until(lambda: css("#items-table tbody tr[data-product]"), message="the store's items")
    _, api_items = call("GET", f"/v1/stores/{target}/items?limit=1000")
    names = {i["product_id"]: i for i in api_items["items"]}
    rows = css("#items-table tbody tr[data-product]")
    check(len(rows) == len(names), f"the store view lists its {len(names)} items")
    link_texts = {r.get_attribute("data-product"): r.find_element(By.CSS_SELECTOR, "a.item-link").text for r in rows}
    check(all(link_texts[p] == names[p]["name"] and link_texts[p] != p for p in names), "items are shown by product name")
    statuses = {r.get_attribute("data-product"): r.get_attribute("data-status") for r in rows}
    check(all(statuses[p] == names[p]["status"] for p in names), f"each item has the API's status {sorted(set(statuses.values()))}")
    check(all(r.find_element(By.CSS_SELECTOR, ".status").text for r in rows), "each status has a label, not only a colour")
    groups = css("#store-alerts .alert-group")
    check(len(groups) > 0, f"the store's alerts, grouped by item ({len(groups)} items)")
    severities = [{"stock_out": 0, "at_risk": 1, "no_thresholds": 2, "above_order_up_to": 3, "ok": 4}[r.get_attribute("data-status")] for r in rows]
    check(severities == sorted(severities), "items sorted by status first")
    search = driver.find_element(By.ID, "item-search")
    some = api_items["items"][0]
    search.send_keys(some["name"][:6])
    found = [r.get_attribute("data-product") for r in css("#items-table tbody tr[data-product]")]
    check(some["product_id"] in found and len(found) <= len(names), f"search by name narrows the list ({len(found)})")
    search.send_keys("\b" * 6)
    wait_until(lambda: len(css("#items-table tbody tr[data-product]")) == len(names), message="the search cleared")
    shot("2-store")

    # Acknowledge the first open alert from the store view.
    button = css("#store-alerts button.ack")[0]
    alert_id = button.find_element(By.XPATH, "./ancestor::div[@data-alert]").get_attribute("data-alert")
    button.click()
    wait_until(lambda: "acknowledged" in notice()[1], message="the acknowledgement's result")
    acked = [a for a in call("GET", f"/v1/alerts?store_id={target}&status=acknowledged&limit=500")[1]["items"] if a["alert_id"] == alert_id]
    check(len(acked) == 1, "an alert acknowledged in the dashboard is acknowledged in the API")
    wait_until(lambda: not css(f"div[data-alert='{alert_id}'] button.ack"), message="the acknowledged alert to lose its button")

    # ---- act on the replenishment plan: the suggested orders become one purchase order, then count as incoming ----
    _, plan = call("GET", f"/v1/stores/{target}/replenishment")
    check(len(css("#order-table tbody tr")) == len(plan["orders"]), f"the store view lists the plan's {len(plan['orders'])} orders")
    if plan["orders"]:
        fill("po-supplier", "Oatly")
        fill("po-reference", "dash-PO-7")
        click("order-submit")
        wait_until(lambda: "Purchase order" in notice()[1], message="the purchase order's result")
        _, orders = call("GET", f"/v1/purchase-orders?store_id={target}&status=open")
        check(len(orders["items"]) == 1 and orders["items"][0]["reference"] == "dash-PO-7"
              and sorted(l["product_id"] for l in orders["items"][0]["lines"]) == sorted(o["product_id"] for o in plan["orders"]),
              "the plan's orders became one open purchase order in the API")
        ordered = plan["orders"][0]["product_id"]
        wait_until(lambda: not css(f"#order-table tbody tr[data-product='{ordered}']"), message="the ordered item to leave the plan")
        line = next(l for l in orders["items"][0]["lines"] if l["product_id"] == ordered)
        cells = row_texts(ordered)
        check(cells[5] == str(line["quantity"]), f"what was ordered shows as incoming on the store view ({cells[5]}, ordered {line['quantity']}, planned {plan['orders'][0]['quantity']})")
        shot("2b-replenishment-ordered")

    # ---- item view: the item with the most movements in the store ----
    product = max(names, key=lambda p: names[p]["version"])
    click_css(f"tr[data-product='{product}'] a.item-link")
    wait_until(lambda: css("#level-chart circle"), message="the level chart")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 90 * 86400))
    _, audit = call("GET", f"/audit-logs?store_id={target}&product_id={product}&since={since}&limit=1000")
    points = css("#level-chart g.movements circle:not(.now)")
    check(len(points) == len(audit["items"]) and len(points) > 0, f"the chart has a point per movement of the last 90 days ({len(points)})")
    check(len(css("#level-chart path.level")) == 1, "the level is drawn as a line")
    _, forecast = call("GET", f"/v1/stores/{target}/products/{product}/forecast?horizon=28")
    if forecast["reorder_point"] is not None:
        check(len(css("#level-chart line.threshold")) == 2, "the reorder point and order-up-to level are drawn")
        check(len(css("#demand-chart path.interval")) == 1 and len(css("#demand-chart path.forecast")) == 1,
              "the demand chart has the forecast and its interval")
    check(len(css("#demand-chart rect")) > 0, "the demand chart has daily bars")
    check((text_of("item-title") or "").startswith(names[product]["name"]), "the item is titled by its name")
    check(len(css("#audit-table tbody tr")) == min(200, len(audit["items"])), "the audit trail is listed below")
    shot("3-item")

    # ---- act: a movement through the form changes the level shown ----
    def on_hand():
        return int(text_of("item-onhand").replace(",", ""))

    before = on_hand()
    fill("move-delta", "7")
    choose("move-reason", "receipt")
    fill("move-reference", "dash-PO-1")
    click("move-submit")
    wait_until(lambda: on_hand() == before + 7, message="the level after the receipt")
    check(notice()[0] == "ok" and "done" in notice()[1], f"the receipt's result is shown: {notice()[1]}")
    check(call("GET", f"/get-stock/{target}/{product}")[1]["quantity"] == before + 7, "the API has the new level")
    check(len(css("#level-chart g.movements circle:not(.now)")) == len(points) + 1, "the chart has one more point")
    check("dash-PO-1" in css("#audit-table tbody tr")[0].text, "the audit trail shows the movement first")
    fill("count-quantity", "3")
    click("count-submit")
    wait_until(lambda: on_hand() == 3, message="the level after the count")
    check(call("GET", f"/get-stock/{target}/{product}")[1]["quantity"] == 3, "a count through the form sets the level")
    shot("4-item-after-movement")

    # ---- a refused action shows the problem's detail ----
    fill("move-delta", "-1000")
    choose("move-reason", "damage")
    click("move-submit")
    wait_until(lambda: notice()[0] == "bad", message="the refusal")
    status, problem = call("POST", f"/update-stock/{target}/{product}", {"delta": -1000, "reason": "damage"})
    check(status == 409 and problem["detail"] in notice()[1], f"the refusal shows the problem's detail: {notice()[1]}")
    check(on_hand() == 3, "a refused movement changes nothing")
    shot("5-refused")

    # ---- live: a movement written elsewhere (another client of the API) appears without a reload ----
    wait_until(lambda: driver.find_element(By.ID, "live").text.startswith("live: on"), message="the live stream")
    driver.execute_script("window.sameDocument = true; document.activeElement && document.activeElement.blur()")
    call("POST", f"/update-stock/{target}/{product}", {"delta": 5, "reason": "receipt", "reference": "live-1"})
    wait_until(lambda: on_hand() == 8, message="the level written elsewhere, shown live")
    check(driver.execute_script("return window.sameDocument === true"), "a level written elsewhere is shown without reloading the page")
    check("live-1" in css("#audit-table tbody tr")[0].text, "... and its movement is first in the audit trail")
    shot("5b-live")

    # ---- inventory states: a reservation made through the API shows as reserved, and available drops ----
    status, reservation = call("POST", "/v1/reservations", {"store_id": target, "product_id": product, "quantity": 2, "reference": "web-1"})
    check(status == 201, f"a reservation through the API ({status})")
    driver.get(BASE + f"/#/store/{target}")
    driver.get(BASE + f"/#/store/{target}/item/{product}")
    wait_until(lambda: text_of("item-reserved") == "2", message="the reserved quantity", detail=lambda: text_of("item-reserved"))
    check(text_of("item-available") == "6", "available = on hand - reserved on the item view")
    driver.get(BASE + f"/#/store/{target}")
    wait_until(lambda: row_texts(product), message="the store view")
    cells = row_texts(product)
    check(cells[2:5] == ["8", "2", "6"], f"the store view shows on hand, reserved and available {cells[2:5]}")
    driver.get(BASE + f"/#/store/{target}/item/{product}")
    wait_until(lambda: css("#level-chart circle"), message="the item view again")

    # ---- a tablet (portrait) ----
    driver.set_window_size(820, 1180)
    driver.get(BASE + f"/#/store/{target}")
    wait_until(lambda: css("#items-table tbody tr[data-product]"), message="the store view on a tablet")
    width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    check(width[0] <= width[1] + 1, f"no page-wide horizontal scroll on a tablet {width}")
    shot("6-store-tablet")
    driver.get(BASE + f"/#/store/{target}/item/{product}")
    wait_until(lambda: css("#level-chart circle"), message="the item view on a tablet")
    width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    check(width[0] <= width[1] + 1, f"no page-wide horizontal scroll on the item view {width}")
    shot("7-item-tablet")

    # ---- no console error but the refusal's own 409 ----
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "409" not in e["message"]]
    check(not errors, f"no console error {errors[:3]}")
except Exception as error:  # noqa: BLE001
    failures.append(repr(error))
    print("FAIL " + (getattr(error, "msg", None) or repr(error)))
    try:
        shot("failure")
    except Exception:  # noqa: BLE001
        pass
finally:
    driver.quit()

if failures:
    print(f"dashboard-test: {len(failures)} failure(s)")
    sys.exit(1)
print("dashboard-test: every check passed")
