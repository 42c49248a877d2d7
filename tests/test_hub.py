"""A class on JupyterHub, driven in headless Chromium against a real hub on loopback (`make hub`'s
configuration with its own accounts): PAM logins, each user's server started as that user, the course
as the formgrader service running as the grader account, the shared exchange.

The instructor logs in on the hub's login page and releases 01_arrays in the formgrader; two students
log in in their own browser contexts, fetch, answer (alice: every solution cell from solutions/; bob:
exercise 1 only, typed in the notebook), validate and submit; the instructor collects, autogrades
(sandboxed, as the non-root grader), generates and releases feedback; each student fetches and reads
their own score. Asserted besides: a student gets 403 from the formgrader and from the other student's
server, cannot list the exchange's inbound or feedback folders nor read the other's home or the
gradebook; every user's server runs as that user's uid, the service as the grader's.

Needs root (real Unix accounts) and Debian's chromium; screenshots go to build/screenshots/hub_*.png
(`make screenshots` copies them to docs/img/).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import REPO
from e2e.browser import GRADE_MS, KERNEL_MS, UI_MS, answer, expect, launch_browser, modal_ok, nbgrader_menu, shot
from e2e.hub import Hub, processes_of, remove_run, run_as, start_hub

from pt2jax.nbmeta import grade_id, is_answer

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

A = "01_arrays"
RIGHT = "def from_list(data):\n    return jnp.asarray(data)\n"
FULL = 42
BOB_SCORE = 2  # exercise 1 right, every other answer the stub


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    yield from launch_browser(failure_prefix="hub-failure-")


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    if os.geteuid() != 0:
        pytest.skip("the hub's accounts are real Unix users: run as root")
    running = start_hub([A])
    try:
        yield running
    finally:
        running.stop()
        remove_run(running)


def _login(browser: Any, hub: Hub, name: str) -> tuple[Any, Any]:
    """A browser context of its own for ``name``, logged in on the hub's login page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_MS)
    page.goto(f"{hub.url}/hub/login", timeout=UI_MS)
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(hub.passwords[name])
    return context, page


def _submit_login(page: Any) -> None:
    page.locator("#login_submit").click()


def _wait_lab(page: Any) -> None:
    page.locator("#jp-main-dock-panel").wait_for(timeout=KERNEL_MS)
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for(timeout=KERNEL_MS)


def _solved(released: Path, solutions: Path) -> dict[str, Any]:
    """The released notebook with every answer cell's source taken from the solution notebook."""
    nb = nbformat.read(released, as_version=4)
    sol = {grade_id(c): c.source for c in nbformat.read(solutions, as_version=4).cells if is_answer(c)}
    for cell in nb.cells:
        if is_answer(cell):
            cell.source = sol[grade_id(cell)]
    return dict(nb)


PUT_JS = """async ([url, content]) => {
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '';
  const resp = await fetch(url, {method: 'PUT', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf)},
    body: JSON.stringify({type: 'notebook', format: 'json', content})});
  return resp.status;
}"""

STATUS_JS = "async (url) => (await fetch(url, {credentials: 'same-origin'})).status"


def _fetch_assignment(page: Any, screenshot: str | None = None) -> Any:
    nbgrader_menu(page, "Assignment List")
    released = page.locator("#released_assignments_list")
    expect()(released).to_contain_text(A, timeout=KERNEL_MS)
    if screenshot:
        shot(page, screenshot)
    released.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list")
    expect()(fetched).to_contain_text(A, timeout=KERNEL_MS)
    return fetched


def _validate_and_submit(page: Any, expected: str) -> None:
    page.locator(".lm-TabBar-tabLabel", has_text="Assignments").click()
    fetched = page.locator("#fetched_assignments_list")
    fetched.get_by_role("button", name="Validate").first.click()
    dialog = page.locator(".jp-Dialog")
    expect()(dialog).to_contain_text(expected, timeout=KERNEL_MS)
    dialog.get_by_role("button").last.click()
    fetched.get_by_role("button", name="Submit").click()
    expect()(page.locator("#submitted_assignments_list")).to_contain_text(A, timeout=KERNEL_MS)


def _read_feedback(page: Any, score: int) -> None:
    page.locator(".lm-TabBar-tabLabel", has_text="Assignments").click()
    submitted = page.locator("#submitted_assignments_list")
    submitted.get_by_role("button", name="Fetch Feedback").click()
    submitted.get_by_text("view feedback").first.click()
    page.locator(".jp-DirListing-item", has_text=f"{A}.html").dblclick()
    frame = page.frame_locator(".jp-HTMLViewer iframe, .jp-RenderedHTML iframe").first
    expect()(frame.locator("body")).to_contain_text(re.compile(rf"Score: {score}(\.0)? / {FULL}"), timeout=KERNEL_MS)


def _server_uids(name: str) -> set[int]:
    """Real uids of the processes of ``name``'s single-user server (found by the hub's environment)."""
    uids = set()
    for pid in processes_of({pwd.getpwnam(name).pw_uid, 0}):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"jupyterhub.singleuser" in cmdline and f"JUPYTERHUB_USER={name}".encode() in environ:
            uids.add(Path(f"/proc/{pid}").stat().st_uid)
    return uids


def test_a_class_on_jupyterhub(playwright_browser: Any, hub: Hub) -> None:
    pages: list[Any] = []
    started = time.monotonic()
    try:
        _class(playwright_browser, hub, pages)
    except BaseException:
        for i, page in enumerate(pages):
            shot(page, f"hub-failure-{i}")
        print("--- hub log ---\n" + hub.log_tail(20_000))
        raise
    print(f"hub round trip: {time.monotonic() - started:.0f} s")


def _class(browser: Any, hub: Hub, pages: list[Any]) -> None:
    acc = hub.settings.accounts
    alice, bob = acc.students
    fg_url = f"{hub.url}/services/{hub.settings.course_id}/formgrader"

    # --- instructor: the hub's login page, then the course's formgrader (the service, as the grader)
    _, ipage = _login(browser, hub, acc.instructor)
    pages.append(ipage)
    shot(ipage, "hub_login")
    _submit_login(ipage)
    ipage.wait_for_url(re.compile(r"/services/pt2jax/formgrader"), timeout=KERNEL_MS)
    row = ipage.locator("#main-table tr", has_text=A)
    row.locator("td.assign a").click()
    modal_ok(ipage, timeout=KERNEL_MS)
    row.locator("td.release a").click()
    modal_ok(ipage)
    expect()(row.locator("td.status")).to_contain_text("released")

    # --- students: log in (each server is spawned as its user), fetch
    _, apage = _login(browser, hub, alice)
    _, bpage = _login(browser, hub, bob)
    pages += [apage, bpage]
    _submit_login(apage)
    _submit_login(bpage)
    _wait_lab(apage)
    _wait_lab(bpage)
    for name in (alice, bob):
        assert _server_uids(name) == {pwd.getpwnam(name).pw_uid}, name
    fetched = _fetch_assignment(apage, "hub_student_assignment_list")
    _fetch_assignment(bpage)

    # alice: every answer cell from solutions/, saved through her own server
    solved = _solved(REPO / "release" / A / f"{A}.ipynb", REPO / "solutions" / A / f"{A}.ipynb")
    status = apage.evaluate(PUT_JS, [f"/user/{alice}/api/contents/{A}/{A}.ipynb", solved])
    assert status == 200, status
    fetched.get_by_text(A, exact=True).first.click()  # the assignment's notebooks, each with Validate
    _validate_and_submit(apage, "Success")

    # bob: exercise 1 typed in the notebook, the rest left as stubs
    bfetched = bpage.locator("#fetched_assignments_list")
    bfetched.get_by_text(A, exact=True).first.click()
    bfetched.locator("a", has_text=A).last.click()
    expect()(bpage.locator(".jp-NotebookPanel .jp-CodeCell", has_text="def from_list").first).to_be_visible(
        timeout=KERNEL_MS)
    answer(bpage, RIGHT, "def from_list")
    bpage.keyboard.press("Control+s")
    expect()(bpage.locator(".jp-mod-dirty")).to_have_count(0)
    _validate_and_submit(bpage, "NotImplementedError")

    # --- instructor: collect, autograde both (sandboxed, as the grader), feedback
    ipage.goto(fg_url)
    row = ipage.locator("#main-table tr", has_text=A)
    row.locator("td.collect a").click()
    modal_ok(ipage)
    ipage.goto(fg_url)
    expect()(row.locator("td.num-submissions")).to_contain_text("2")
    row.locator("td.num-submissions a").click()
    subs = ipage.locator("#main-table tr")
    expect()(subs).to_have_count(2)
    for student, score in ((alice, FULL), (bob, BOB_SCORE)):
        sub = ipage.locator("#main-table tr", has_text=student)
        sub.locator("td.autograde a").click()
        modal_ok(ipage, timeout=GRADE_MS)
        expect()(sub.locator("td.score")).to_contain_text(re.compile(rf"^{score}(\.0)? / {FULL}"))
    shot(ipage, "hub_formgrader_grades")
    for student in (alice, bob):
        sub = ipage.locator("#main-table tr", has_text=student)
        sub.locator("td.generate-feedback a").click()
        modal_ok(ipage, timeout=KERNEL_MS)
        sub.locator("td.release-feedback a").click()
        modal_ok(ipage)

    # grading ran sandboxed, as the grader: pt2jax's reports carry no `unsandboxed` flag
    course = Path(hub.settings.course)
    grader_uid = pwd.getpwnam(acc.grader).pw_uid
    for student in (alice, bob):
        report = course / "reports" / A / f"{student}.json"
        assert report.stat().st_uid == grader_uid
        data = json.loads(report.read_text())
        assert "error" not in data, data  # PipelineGrade writes the refusal there, and zeros
        assert "unsandboxed" not in {f["kind"] for f in data["flags"]}, data["flags"]

    # --- each student reads their own feedback and score
    _read_feedback(apage, FULL)
    _read_feedback(bpage, BOB_SCORE)

    # --- what a student cannot reach
    service = f"/services/{hub.settings.course_id}"
    for path in (f"{service}/formgrader", f"{service}/formgrader/gradebook", f"{service}/api/contents/gradebook.db"):
        response = bpage.goto(f"{hub.url}{path}")
        assert response is not None and response.status == 403, (path, response and response.status)
    response = bpage.goto(f"{hub.url}/user/{alice}/lab")
    assert response is not None and response.status == 403, response and response.status
    bpage.goto(f"{hub.url}/user/{bob}/lab")
    _wait_lab(bpage)
    # bob's file browser (his server's contents API) stops at his home; slashes encoded, so the
    # browser sends the dots as they are
    home = pwd.getpwnam(alice).pw_dir.replace("/", "%2F")
    for path in (f"..%2F{alice}", home, f"{home}%2F{A}", "..%2F..%2Fetc%2Fpasswd"):
        status = bpage.evaluate(STATUS_JS, f"/user/{bob}/api/contents/{path}")
        assert status in (400, 403, 404), (path, status)
    exchange = Path(hub.settings.exchange) / hub.settings.course_id
    probe = (
        "import os, sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(1)\n"
        "        print('READ', path)\n"
        "    except PermissionError:\n"
        "        print('DENIED', path)\n"
    )
    targets = [exchange / "inbound", exchange / "feedback", course / "gradebook.db", course,
               Path(pwd.getpwnam(alice).pw_dir)]
    result = run_as(bob, probe.replace("sys.argv[1:]", repr([str(t) for t in targets])))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == [f"DENIED {t}" for t in targets], result.stdout
    # and the course service runs as the grader account, not root
    service_uids = {Path(f"/proc/{pid}").stat().st_uid for pid in processes_of({grader_uid})}
    assert service_uids == {grader_uid}
