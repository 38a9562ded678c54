"""The documentation site: its page generator, the built site's links, and a real browser.

* The generator (docs/hooks.py) cuts README sections into pages and rewrites their links; tested
  on small inputs (needs mkdocs, from the ``docs`` extra; skipped without it).
* The built site (``site/``, from ``mkdocs build --strict``; .ci/run builds it before the tests,
  ``$MINIVAE_DOCS_SITE`` points elsewhere): every lesson and experiment page exists and every
  ``<img src>`` that is a file resolves.  Skipped when no site was built.
* Headless Debian chromium (``/usr/bin/chromium``; skipped where it is absent) opens the index and
  a lesson page from a server on 127.0.0.1 and reports, from JavaScript in the page, that every
  ``<img>`` loaded with ``naturalWidth > 0``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("MINIVAE_DOCS_SITE", REPO / "site"))
CHROMIUM = "/usr/bin/chromium"
LESSONS = sorted(p.stem for p in (REPO / "lessons").glob("*.ipynb"))
LESSON_WITH_FIGURES = "01_autoencoders"


def _hooks():
    pytest.importorskip("mkdocs")
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _need_site() -> None:
    if not (SITE / "index.html").exists():
        pytest.skip(f"no built site at {SITE}: run `mkdocs build --strict` first")


# --- the generator -------------------------------------------------------------------------------

def test_sections_split_at_one_level_and_skip_code_fences():
    hooks = _hooks()
    text = "# T\nintro\n## A\na\n```bash\n## not a heading\n```\n### A1\nx\n## B\nb\n"
    sections = hooks._sections(text, 2)
    assert [head for head, _ in sections] == ["", "A", "B"]
    assert "## not a heading" in sections[1][1] and "### A1" in sections[1][1]


def test_links_are_rewritten_for_the_page():
    hooks = _hooks()
    text = ("![s](figures/a.png) see [b](benchmarks/README.md) and [m](minivae/nn/lstm.py)\n"
            '<img src="figures/b.png" width="50%"> [web](https://example.org/x)\n'
            "```\n[kept](figures/a.png)\n```\n")
    out = hooks.rewrite_links(text, "README.md", "experiments/page.md")
    assert "![s](../figures/a.png)" in out
    assert "[b](../benchmarks/full.md)" in out
    assert "m (`minivae/nn/lstm.py`)" in out  # not on the site: its path in code font
    assert 'src="../../figures/b.png"' in out  # raw HTML: from the page's URL experiments/page/
    assert "[web](https://example.org/x)" in out
    assert "[kept](figures/a.png)" in out  # inside a code fence: untouched


def test_every_readme_experiment_becomes_a_page():
    hooks = _hooks()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    experiments = hooks._sections(hooks._section(readme, 2, "Experiments"), 3)[1:]
    pages = hooks.readme_pages()
    assert experiments, "README has no ### sections under ## Experiments"
    for head, body in experiments:
        page = pages[f"experiments/{hooks.slug(head)}.md"]
        assert page.startswith(f"# {head}\n")
        # the tables are the README's own rows, not a second copy
        rows = [line for line in body.splitlines() if line.startswith("|")]
        assert all(row in page for row in rows if "](" not in row), head


# --- the built site ------------------------------------------------------------------------------

def _pages() -> list[Path]:
    """The site's HTML pages but 404.html (its links are absolute: it is served at any depth)."""
    return [p for p in SITE.rglob("*.html") if p.name != "404.html"]


def test_every_lesson_is_in_the_nav():
    """The nav is written out in mkdocs.yml: a new lesson must be listed there, in order (a page
    left out of the nav builds, but a reader never finds it)."""
    text = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    listed = re.findall(r"^\s*- (lessons/\d\d_\w+\.ipynb)\s*$", text, flags=re.M)
    lessons = sorted(f"lessons/{p.name}" for p in (REPO / "lessons").glob("*.ipynb"))
    assert listed == lessons


def test_built_site_has_every_lesson_and_experiment():
    _need_site()
    for stem in LESSONS:
        assert (SITE / "lessons" / stem / "index.html").exists(), stem
    experiments = list((SITE / "experiments").glob("*/index.html"))
    assert len(experiments) >= 5, experiments
    for page in ("installation", "quickstart", "gradcheck", "figures", "benchmarks", "api/nn"):
        assert (SITE / page / "index.html").exists(), page


def test_built_site_images_resolve():
    _need_site()
    missing = []
    for html in _pages():
        for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', html.read_text(encoding="utf-8")):
            if src.startswith(("data:", "http:", "https:")):
                continue
            target = (html.parent / src.split("#")[0]).resolve()
            if not target.exists():
                missing.append(f"{html.relative_to(SITE)} -> {src}")
    assert not missing, "\n".join(missing[:20])


def test_built_site_internal_links_resolve():
    _need_site()
    broken = []
    for html in _pages():
        text = html.read_text(encoding="utf-8")
        for href in re.findall(r'<a[^>]*\shref="([^"]+)"', text):
            if re.match(r"^(#|[a-z]+:|//)", href):
                continue
            path = href.split("#")[0].split("?")[0]
            target = (html.parent / path).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{html.relative_to(SITE)} -> {href}")
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(broken[:20])


# --- a real browser ------------------------------------------------------------------------------

CHECK_PAGE = """<!doctype html><html><body><pre id="result">pending</pre>
<iframe id="f" src="{page}" width="1200" height="900"></iframe>
<script>
document.getElementById("f").addEventListener("load", function () {{
  setTimeout(function () {{
    var imgs = Array.from(this.contentDocument.images);
    var report = imgs.map(function (i) {{
      return {{src: i.src.slice(0, 80), complete: i.complete, w: i.naturalWidth}};
    }});
    document.getElementById("result").textContent = "RESULT" + JSON.stringify(report) + "END";
  }}.bind(this), 1500);
}});
</script></body></html>"""


@pytest.fixture(scope="module")
def server():
    _need_site()
    root = Path(tempfile.mkdtemp(prefix="minivae-site-"))
    shutil.copytree(SITE, root / "site")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    shutil.rmtree(root, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


def _images_in_browser(root: Path, base: str, page: str) -> list[dict]:
    """Open ``page`` (under /site/) in headless chromium; its <img> elements as the page sees."""
    name = f"check-{abs(hash(page))}.html"
    (root / name).write_text(CHECK_PAGE.format(page=f"/site/{page}"), encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="minivae-chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
             "--dump-dom", f"{base}/{name}"],
            capture_output=True, text=True, timeout=120)
    match = re.search(r"RESULT(.*?)END", proc.stdout, re.S)
    assert match, (f"the page's script did not report (exit {proc.returncode}):\n"
                   f"{proc.stderr[-2000:]}")
    return json.loads(match.group(1).replace("&quot;", '"'))


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")
@pytest.mark.parametrize("page, at_least", [("index.html", 4),
                                            (f"lessons/{LESSON_WITH_FIGURES}/index.html", 1)])
def test_browser_renders_figures(server, page, at_least):
    root, base = server
    images = _images_in_browser(root, base, page)
    assert len(images) >= at_least, f"{page}: {len(images)} <img> elements, expected {at_least}+"
    broken = [i for i in images if not (i["complete"] and i["w"] > 0)]
    assert not broken, f"{page}: images that did not render: {broken}"
