"""The built site, as a reader sees it: headless Chromium driven by Playwright.

The module builds the book first with the strict command (``jupyter-book build book -W -n
--keep-going``, under the profile the tests run with: ``smoke`` by default); jupyter-cache makes
this quick when nothing changed. Chromium is Debian's (``/usr/bin/chromium``, or
``$CNNLAB_CHROMIUM``); Playwright only drives it and never downloads a browser. Screenshots go to
``book/_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "book" / "_build" / "html"
SHOTS = ROOT / "book" / "_build" / "screenshots"
ASSIGNMENTS = ["a1-keras-basics", "a2-mnist-convnet", "a3-cnn-design", "a4-cifar10-lab",
               "a5-mixtures-factorization"]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    path = os.environ.get("CNNLAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium not found: install Debian's chromium package (apt-get install chromium) "
                    "or set CNNLAB_CHROMIUM to its path")
    return path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    """Build the book strictly, then serve book/_build/html on a local port."""
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", "book", "-W", "-n", "--keep-going"]
    build = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, "strict build failed:\n" + build.stdout[-4000:] + build.stderr[-4000:]
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements.txt")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # the machine is offline: refuse anything that is not the local site instead of waiting for it
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(site)
               else route.abort())
    yield page
    page.close()


def test_home_page_links_every_assignment(page, site):
    page.goto(f"{site}/index.html")
    page.wait_for_url("**/intro.html", timeout=10_000)  # index.html redirects to the intro page
    page.wait_for_load_state("load")
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    for assignment in ASSIGNMENTS:
        assert f"{assignment}/index.html" in hrefs, f"the home page does not link {assignment}"
        assert (HTML / assignment / "index.html").exists()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "home.png", full_page=False)


def test_notebook_page_shows_its_executed_figures(page, site):
    page.goto(f"{site}/a1-keras-basics/mnist-mlp.html")
    page.wait_for_load_state("load")
    sizes = page.eval_on_selector_all(
        ".cell_output img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.getAttribute('src')])")
    assert len(sizes) >= 5, f"expected the notebook's figures, found {len(sizes)} images"
    assert all(complete and width > 100 for complete, width, _ in sizes), sizes
    assert page.locator(".cell_output").count() > 10
    # open the Q2 solution and photograph its first figure in context
    solution = page.locator("div.solution.dropdown", has=page.locator("a[href='#a1-q2']"))
    solution.locator(".admonition-title").click()
    figure = solution.locator(".cell_output img").first
    figure.wait_for(state="visible", timeout=5000)
    figure.evaluate("element => element.scrollIntoView({block: 'center'})")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "a1-mnist-mlp.png", full_page=False)


def test_every_solution_starts_folded_and_opens_on_click(page, site):
    """Every solution of the page is a folded dropdown (as many as the source has); the first
    one's body is hidden until its title is clicked."""
    page.goto(f"{site}/a1-keras-basics/mnist-mlp.html")
    page.wait_for_load_state("load")
    source = (ROOT / "book" / "a1-keras-basics" / "mnist-mlp.md").read_text()
    solutions = page.locator("div.solution.dropdown")
    assert solutions.count() == source.count("```{solution-start}") > 1
    bodies = [solutions.nth(i).locator("section").first for i in range(solutions.count())]
    assert not any(body.is_visible() for body in bodies), "every solution must start folded"
    solutions.first.locator(".admonition-title").click()
    bodies[0].wait_for(state="visible", timeout=5000)
    assert bodies[0].is_visible() and not bodies[1].is_visible(), "a click opens that solution only"


def expected_ref(config) -> str:
    """The git ref the launch buttons open: the release the site is built from, else the branch."""
    return os.environ.get("CNNLAB_BOOK_REF") or config["branch"]


def test_colab_link_targets_the_pages_notebook(page, site):
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())["repository"]
    page.goto(f"{site}/a2-mnist-convnet/replicate.html")
    page.wait_for_load_state("load")
    link = page.locator(".dropdown-launch-buttons a[href*='colab.research.google.com']")
    assert link.count() == 1
    href = link.get_attribute("href")
    repo = config["url"].removeprefix("https://github.com/")
    expected = (f"https://colab.research.google.com/github/{repo}/blob/{expected_ref(config)}/"
                f"{config['path_to_book']}/a2-mnist-convnet/replicate.ipynb")
    assert href == expected
    assert (ROOT / "book" / "a2-mnist-convnet" / "replicate.ipynb").exists()


def test_every_notebook_page_links_its_student_version(page, site):
    sys.path.insert(0, str(ROOT / "tools"))
    import workbook

    for path in workbook.notebooks():
        name = workbook.name_of(path)
        page.goto(f"{site}/{name}.html")
        page.wait_for_load_state("load")
        link = page.locator("a.cnnlab-student-colab")
        assert link.count() == 1, f"{name}: no student-version link"
        assert link.get_attribute("href") == workbook.student_colab_url(name)
        assert "blob/v" in link.get_attribute("href") and link.is_visible()
    # the page's download link reaches the zip, which holds the edition of every notebook
    href = page.locator("a.cnnlab-student-zip").get_attribute("href")
    response = page.request.get(urllib.parse.urljoin(page.url, href))
    assert response.ok and response.url == f"{site}/student-edition.zip"
    archive = zipfile.ZipFile(io.BytesIO(response.body()))
    names = sorted(archive.namelist())
    assert names == sorted(f"cnnlab-student/{workbook.name_of(p)}.ipynb" for p in workbook.notebooks())
    notebook = json.loads(archive.read("cnnlab-student/a2-mnist-convnet/replicate.ipynb"))
    assert notebook["metadata"]["cnnlab"]["edition"] == "student"
    text = json.dumps(notebook)
    assert "solution-start" not in text and "# your code here" in text
