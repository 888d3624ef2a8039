"""Driving the real app in headless Chromium: log in through the form, wait for Dash to render."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from support import PASSWORD

SHELL_READY = "#user-menu-dropdown"


def browser_login(dash_duo, username: str, password: str = PASSWORD, next_path: str = "/") -> None:
    driver = dash_duo.driver
    driver.get(f"{dash_duo.server.url}/login?next={next_path}")
    dash_duo.wait_for_element("#username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def open_page(dash_duo, path: str) -> None:
    dash_duo.driver.get(f"{dash_duo.server.url}{path}")
    dash_duo.wait_for_element(SHELL_READY)


def forge_callback(dash_duo, body: dict, timeout_ms: int = 20000) -> dict:
    """POST a hand-made callback body from the logged-in page itself (cookie and CSRF header included), as an
    attacker with the page open could; returns {"status": ..., "text": ...}. A background callback answers with a
    job handle first: that is polled as the renderer does, and the job's last answer is returned (its side
    updates, the toasts, under "sideUpdate")."""
    return dash_duo.driver.execute_async_script(
        """
        const [body, timeoutMs, done] = arguments;
        const token = document.cookie.split('; ').find(c => c.startsWith('_csrf_token=')).split('=')[1];
        const headers = {'Content-Type': 'application/json', 'X-CSRFToken': decodeURIComponent(token)};
        const deadline = Date.now() + timeoutMs;
        const side = {};
        const send = (url) => fetch(url, {method: 'POST', body: JSON.stringify(body), headers})
          .then(r => r.text().then(t => {
            let data = null;
            try { data = JSON.parse(t); } catch (e) { /* not JSON: the answer as it is */ }
            if (data && data.sideUpdate) { Object.assign(side, data.sideUpdate); }
            const handle = data && data.cacheKey && data.job ? {cacheKey: data.cacheKey, job: data.job} : null;
            const pending = data && (handle || url.indexOf('job=') >= 0) && !('response' in data);
            if (r.status === 200 && pending && Date.now() < deadline) {
              const next = handle || Object.fromEntries(new URL(url, location.href).searchParams);
              const query = '?cacheKey=' + encodeURIComponent(next.cacheKey) + '&job=' + encodeURIComponent(next.job);
              return new Promise(res => setTimeout(res, 100)).then(() => send('/_dash-update-component' + query));
            }
            if (Object.keys(side).length) { t = JSON.stringify(Object.assign(data || {}, {sideUpdate: side})); }
            done({status: r.status, text: t});
          }));
        send('/_dash-update-component');
        """,
        body, timeout_ms,
    )


def click(dash_duo, selector: str) -> None:
    """Click through the DOM: the Controller page is taller than the test window, and a native click on a button
    below the fold is refused as "intercepted" by whatever is drawn at that point."""
    element = dash_duo.find_element(selector)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element)


def double_click_until(dash_duo, selector: str, done, timeout: float = 20, attempt: float = 4) -> None:
    """Double-click the element at `selector` until `done()`: a live grid redraws its rows on its own ticks, and
    a double-click on a row being replaced is lost (as a user would, click again). Each try waits `attempt` s."""
    from dash.testing.errors import TestingTimeoutError
    from dash.testing.wait import until
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.action_chains import ActionChains

    deadline = time.monotonic() + timeout
    while True:
        try:
            ActionChains(dash_duo.driver).double_click(dash_duo.find_element(selector)).perform()
            until(done, attempt)
            return
        except (WebDriverException, TestingTimeoutError):
            if time.monotonic() > deadline:
                raise
