"""The console end to end in a real headless browser (Debian's Chromium, driven by its
ChromeDriver through Selenium) against a real HTTP server, the real identity provider and
the real stack: an analyst of Miviludes signs in with the keyboard alone (password, then
TOTP), finds the court's request, answers it, and the court's system sees the answer in
its feed; an agent of another organisation gets 404. axe-core (from npm) checks each
screen against WCAG 2.1 A/AA: no serious or critical violation."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from services.config import ROOT
from tests.conftest import (
    _free_port,
    agent,
    build_stack,
    example_request,
    served_over_http,
    stop_consumers,
)
from tests.services.console.idp import fresh_totp

AXE = ROOT / ".vigie" / "tools" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
# Where the README's screenshots are written when asked (make console-screenshots).
SHOTS = os.environ.get("VIGIE_SCREENSHOTS_DIR")


@pytest.fixture(scope="module")
def live(broker, database_factory, tmp_path_factory, identity_provider):
    """The whole hub served over HTTP on a free port (its public URL, so the IdP sends
    the browser back to it)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stack = build_stack("sqlite", database_factory("sqlite"),
                        tmp_path_factory.mktemp("state-browser"), VIGIE_PUBLIC_URL=url)
    with served_over_http(stack.http.app, port):
        yield stack, url
    stop_consumers(stack)
    stack.stop_writer.set()
    stack.hub.stop()


@pytest.fixture
def browser():
    profile = tempfile.mkdtemp(prefix="vigie-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--lang=fr-FR",
                 "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(
        shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def until(driver, condition, what: str, timeout: float = 30):
    """Wait for `condition`; on timeout, say where the browser is and what it shows."""
    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        text = driver.find_element(By.TAG_NAME, "body").text[:1500]
        raise AssertionError(f"{what}: still at {driver.current_url} "
                             f"({driver.title!r}): {text}") from None


def accessible(driver, name: str) -> None:
    """No serious or critical WCAG 2.1 A/AA violation on the page (axe-core)."""
    driver.execute_script(AXE.read_text())
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}).then(r => done(r.violations));")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: {serious}"
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


def tab_to(driver, predicate, limit: int = 40):
    """Press Tab until the focused element matches (keyboard-only navigation)."""
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(limit):
        body.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        if predicate(focused):
            return focused
        body = focused
    raise AssertionError("never reached by the keyboard")


def keyboard_sign_in(driver, url: str, account: dict) -> None:
    driver.get(url + "/console/")
    first = tab_to(driver, lambda e: True)
    assert first.text == "Aller au contenu"             # the skip link comes first
    link = tab_to(driver, lambda e: e.get_attribute("id") == "se-connecter")
    link.send_keys(Keys.ENTER)
    until(driver, expected_conditions.presence_of_element_located((By.ID, "username")),
          "the provider's sign-in page")
    driver.switch_to.active_element.send_keys(account["username"])   # focused at load
    driver.switch_to.active_element.send_keys(Keys.TAB)
    driver.find_element(By.ID, "password").send_keys(account["password"], Keys.ENTER)
    if account.get("totp_secret"):
        until(driver, expected_conditions.presence_of_element_located((By.ID, "otp")),
              "the second factor's page")
        driver.find_element(By.ID, "otp").send_keys(fresh_totp(account["totp_secret"]),
                                                    Keys.ENTER)
    until(driver, expected_conditions.title_contains("Accueil"), "the console's home")


def test_an_analyst_answers_in_the_browser_and_the_court_sees_it(live, browser):
    stack, url = live
    court = stack.api("tj-paris")
    made = court.post("/v1/information-requests", example_request())
    assert made.status_code == 201, made.text
    item_id = made.json()["id"]
    keyboard_sign_in(browser, url, agent("analyste.miviludes"))
    assert "Bonjour Camille Analyste" in browser.page_source
    accessible(browser, "accueil")

    browser.get(url + "/console/information-requests/?box=received")
    accessible(browser, "boite-de-reception")
    link = tab_to(browser, lambda e: item_id in (e.get_attribute("href") or ""), 80)
    link.send_keys(Keys.ENTER)
    until(browser, expected_conditions.title_contains("Motif"), "the purpose page")
    accessible(browser, "motif")
    tab_to(browser, lambda e: e.text == "Consulter le dossier").send_keys(Keys.ENTER)
    until(browser, expected_conditions.presence_of_element_located((By.ID, "verification")),
          "the item's page")
    assert "vérifiée" in browser.find_element(By.ID, "verification").text
    accessible(browser, "dossier")

    # Sent empty: every invalid field listed in French, focus order intact.
    browser.find_element(By.ID, "envoyer-answer").click()
    until(browser, expected_conditions.presence_of_element_located((By.ID, "erreurs")),
          "the refused form")
    assert "champ obligatoire" in browser.find_element(By.ID, "erreurs").text
    accessible(browser, "reponse-refusee")
    for name, value in (("text", "Quatorze signalements depuis 2019."),
                        ("signed_by.name", "Camille Analyste"),
                        ("signed_by.capacity", "Analyste"),
                        ("signed_on", date.today().strftime("%d%m%Y"))):
        browser.find_element(By.NAME, name).send_keys(value)
    browser.find_element(By.NAME, "notice_acknowledged").send_keys("o")   # « oui »
    browser.find_element(By.XPATH, "//button[@value='send']").send_keys(Keys.ENTER)
    until(browser, expected_conditions.text_to_be_present_in_element((By.ID, "etat"),
                                                                      "répondue"),
          "the answered item")
    accessible(browser, "dossier-repondu")

    feed = court.wait_feed(lambda f: any(i["event"]["subject"] == item_id and
                                         i["event"]["type"].endswith("answered") for i in f))
    answered = [i for i in feed if i["event"]["subject"] == item_id][-1]
    assert answered["event"]["data"]["content"]["text"] == "Quatorze signalements depuis 2019."

    # The statistics page, its form and its table.
    browser.get(url + "/console/statistics?by=state&period=year")
    until(browser, expected_conditions.presence_of_element_located((By.ID, "statistiques")),
          "the statistics' table")
    accessible(browser, "statistiques")


def test_an_agent_of_another_organisation_sees_none_of_it(live, browser):
    stack, url = live
    made = stack.api("tj-lyon").post("/v1/information-requests", example_request())
    item_id = made.json()["id"]
    keyboard_sign_in(browser, url, agent("analyste.dgs"))
    browser.get(f"{url}/console/information-requests/{item_id}")
    assert "Erreur 404" in browser.page_source
    accessible(browser, "erreur-404")
