"""MkDocs hook: the site's pages that come from the repository, written once there.

Nothing here holds a number.  The tables and commands live in README.md, benchmarks/README.md,
figures/README.md and lessons/README.md; this hook cuts those files into pages at build time
(one page per ``###`` section under README's ``## Experiments``), rewrites their repository-relative
links for the site, adds the committed figures, and adds the lesson notebooks *executed* (so the
site shows their outputs; the .ipynb files are saved without outputs, tests/test_lessons.py checks
that).

Lessons run in the small setting the test suite uses (``MINIVAE_LESSON_SIZE=small``, cwd
``lessons/``, one BLAS thread, the Agg backend), with whatever MNIST ``$MINIVAE_DATA_DIR`` gives
(the image lessons fall back to a synthetic stand-in without it): nothing is downloaded.  Executed
notebooks are cached in ``.cache/docs-lessons/`` under a hash of the notebook and of the library's
sources, so a rebuild after editing a page does not re-run them.

Environment:
    MINIVAE_DOCS_EXECUTE=0  render the lessons without running them (no outputs; for a quick
                            look at the layout only).
    MINIVAE_DOCS_JOBS=2     lessons executed at the same time (default 2, the machine's cores).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parent.parent

def _load_lesson_cache():
    """docs/lesson_cache.py, by file path (mkdocs loads this hook by path, not as a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("minivae_docs_lesson_cache",
                                                  Path(__file__).with_name("lesson_cache.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_lesson_cache = _load_lesson_cache()
CACHE = _lesson_cache.CACHE
GENERATED = REPO / ".cache" / "docs-pages"
CELL_TIMEOUT_S = 300

_HEADING = re.compile(r"^(#{1,6}) (.*)$")
_MD_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_HTML_SRC = re.compile(r'src="([^"]+)"')


def _sections(text: str, level: int) -> list[tuple[str, str]]:
    """Split markdown into (heading, body) at headings of exactly ``level`` (code fences skipped).

    The text before the first such heading comes first with heading ``""``.
    """
    out: list[tuple[str, list[str]]] = [("", [])]
    fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        match = None if fence else _HEADING.match(line)
        if match and len(match.group(1)) == level:
            out.append((match.group(2).strip(), []))
        else:
            out[-1][1].append(line)
    return [(head, "\n".join(body).strip() + "\n") for head, body in out]


def _section(text: str, level: int, title: str) -> str:
    for head, body in _sections(text, level):
        if head == title:
            return body
    raise KeyError(f"README has no {'#' * level} {title!r} section (the docs hook needs it)")


def slug(title: str) -> str:
    """A file name for a section title: lower case, words joined by '-'."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return "-".join(words[:8])


# Repository paths that are pages of the site (path in the repo -> page in the site).
SITE_PAGES = {
    "README.md": "index.md",
    "lessons/README.md": "lessons/index.md",
    "figures/README.md": "figures.md",
    "benchmarks/README.md": "benchmarks/full.md",
}


def _relative(target: str, page: str) -> str:
    """``target`` (a site path) as seen from the page ``page`` (a site path)."""
    return os.path.relpath(target, os.path.dirname(page) or ".").replace(os.sep, "/")


def rewrite_links(text: str, source: str, page: str) -> str:
    """Make the repository-relative links of ``source`` (a repo path) work on the site's ``page``.

    Figures and the READMEs that are pages become site links; any other repository file (a
    module, a script) becomes its path in code font, since the site does not carry it.
    """
    base = os.path.dirname(source)

    def target(path: str) -> str | None:
        if re.match(r"^[a-z]+:|^#|^/", path):
            return None  # absolute URL or anchor: leave it
        anchor = ""
        if "#" in path:
            path, anchor = path.split("#", 1)
            anchor = "#" + anchor
        repo_path = os.path.normpath(os.path.join(base, path)).replace(os.sep, "/")
        if repo_path.startswith("figures/") and repo_path.endswith(".png"):
            return _relative(repo_path, page) + anchor
        if repo_path in SITE_PAGES:
            return _relative(SITE_PAGES[repo_path], page) + anchor
        if repo_path.startswith("lessons/") and repo_path.endswith(".ipynb"):
            return _relative(repo_path, page) + anchor
        return "`" + repo_path + "`"

    def md(match: re.Match) -> str:
        bang, label, path = match.groups()
        new = target(path)
        if new is None:
            return match.group(0)
        if new.startswith("`"):
            return label if label.strip("`") == path else f"{label} ({new})"
        return f"{bang}[{label}]({new})"

    def html(match: re.Match) -> str:
        # raw HTML is not rewritten by MkDocs: point it from the page's URL (a/b.md -> a/b/)
        new = target(match.group(1))
        if new is None or new.startswith("`"):
            return match.group(0)
        site_path = os.path.normpath(os.path.join(os.path.dirname(page), new))
        url_dir = os.path.dirname(page) if page.endswith("index.md") else page[:-3]
        return 'src="{}"'.format(os.path.relpath(site_path, url_dir or ".").replace(os.sep, "/"))

    out, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        out.append(line if fence else _HTML_SRC.sub(html, _MD_LINK.sub(md, line)))
    return "\n".join(out) + "\n"


def _note(source: str, section: str = "") -> str:
    where = f"`{source}`" + (f", section *{section}*" if section else "")
    return (f"\n\n---\n*This page is generated from {where} of the repository at build time "
            "(docs/hooks.py); edit it there.*\n")


def readme_pages() -> dict[str, str]:
    """Site path -> markdown of every page cut from the READMEs."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    top = dict(_sections(readme, 2))
    intro = _sections(readme, 2)[0][1]  # the title and the first paragraphs
    pages = {
        "index.md": intro + "\n## Figures\n\n" + top["Figures"]
        + "\n## Two backends, one library\n\n" + top["Two backends, one library"]
        + "\n## What is inside\n\n" + top["What is inside"]
        + "\n## Data\n\n" + top["Data"] + "\n## References\n\n" + top["References"],
        "installation.md": "# Installation\n\n" + top["Set up"]
        + "\n## Documentation site\n\n" + top["Documentation site"],
        "quickstart.md": "# Quick start\n\n" + top["Quick start"],
        "benchmarks/index.md": "# Speed: the benchmark summary\n\n" + top["Speed"],
    }
    experiments = _sections(top["Experiments"], 3)
    pages["experiments/index.md"] = "# Experiments\n\n" + experiments[0][1]
    for head, body in experiments[1:]:
        # the section's own sub-headings move up one level: the page title is the section
        body = _lift(body)
        pages[f"experiments/{slug(head)}.md"] = f"# {head}\n\n{body}"
    sources = {"index.md": "README.md", "installation.md": "README.md",
               "quickstart.md": "README.md", "benchmarks/index.md": "README.md"}
    out = {}
    for page, text in pages.items():
        src = sources.get(page, "README.md")
        out[page] = rewrite_links(text, src, page)
        if page == "experiments/index.md":  # links between site pages: added after the rewrite
            out[page] += "\n" + "\n".join(
                f"- [{head}]({slug(head)}.md)" for head, _ in experiments[1:]) + "\n"
        out[page] += _note(src)
    for repo_path in ("lessons/README.md", "figures/README.md", "benchmarks/README.md"):
        page = SITE_PAGES[repo_path]
        text = (REPO / repo_path).read_text(encoding="utf-8")
        out[page] = rewrite_links(text, repo_path, page) + _note(repo_path)
    return out


def _lift(body: str) -> str:
    """Sub-headings one level up, outside code fences (a '# comment' in a fence stays)."""
    out, fence = [], False
    for line in body.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"^##+ ", line):
            line = line[1:]
        out.append(line)
    return "\n".join(out) + "\n"


# Run by a fresh interpreter per lesson: sys.argv = [notebook, output, lessons dir, timeout].
_EXECUTE = """
import sys, nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(nb, timeout=int(sys.argv[4]), kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def execute_lessons(notebooks: list[Path], jobs: int) -> dict[Path, Path]:
    """Each lesson run in the small setting, ``jobs`` at a time; cached until it or the library
    changes.  A lesson that fails stops the build with its error (the site shows no broken run)."""
    lib_hash = _lesson_cache.sources_hash()
    outputs = {nb: _lesson_cache.cached_path(nb, lib_hash) for nb in notebooks}
    env = dict(os.environ, MINIVAE_LESSON_SIZE="small", MPLBACKEND="Agg")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = os.environ.get(var, "1")  # small matrices: one BLAS thread, as the tests do
    todo = [nb for nb, out in outputs.items() if not out.exists()]
    running: list[tuple[Path, subprocess.Popen, Path]] = []
    while todo or running:
        while todo and len(running) < jobs:
            nb = todo.pop(0)
            tmp = outputs[nb].with_suffix(".partial")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-c", _EXECUTE, str(nb), str(tmp), str(nb.parent),
                   str(CELL_TIMEOUT_S)]
            with open(tmp.with_suffix(".log"), "w") as log:  # a file: a pipe could fill up
                proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            running.append((nb, proc, tmp))
        nb, proc, tmp = running.pop(0)
        if proc.wait() != 0:
            for _, other, _ in running:
                other.kill()
            log = tmp.with_suffix(".log").read_text(errors="replace")
            raise RuntimeError(f"lesson {nb.name} failed to execute:\n{log[-4000:]}")
        tmp.replace(outputs[nb])
    return outputs


def on_config(config):
    """Write the generated pages (and the executed lessons) and list the experiments in the nav."""
    if GENERATED.exists():
        shutil.rmtree(GENERATED)
    pages = readme_pages()
    for page, text in pages.items():
        dest = GENERATED / page
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
    notebooks = sorted((REPO / "lessons").glob("*.ipynb"))
    if os.environ.get("MINIVAE_DOCS_EXECUTE", "1") != "0":
        executed = execute_lessons(notebooks, int(os.environ.get("MINIVAE_DOCS_JOBS", "2")))
    else:
        executed = {nb: nb for nb in notebooks}
    (GENERATED / "lessons").mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        shutil.copyfile(executed[nb], GENERATED / "lessons" / nb.name)
    experiments = [{_title(pages[p]): p} for p in pages
                   if p.startswith("experiments/") and p != "experiments/index.md"]
    for i, item in enumerate(config["nav"]):
        if isinstance(item, dict) and item.get("Experiments") == "experiments/index.md":
            config["nav"][i] = {"Experiments": ["experiments/index.md", *experiments]}
    return config


def _title(markdown: str) -> str:
    return markdown.splitlines()[0].lstrip("# ").strip()


# A normal File whose source lives outside docs/ (mkdocs-jupyter needs a real abs_src_path, which
# File.generated does not give it); priority 100: before mkdocs-jupyter turns notebooks into pages.
@event_priority(100)
def on_files(files: Files, config) -> Files:
    """Add the generated pages, the executed lessons and the committed figures to the site."""
    site, urls = config["site_dir"], config["use_directory_urls"]
    for path in sorted(p for p in GENERATED.rglob("*") if p.is_file()):
        rel = path.relative_to(GENERATED).as_posix()
        files.append(File(rel, str(GENERATED), site, urls))
    for png in sorted((REPO / "figures").glob("*.png")):
        files.append(File(f"figures/{png.name}", str(REPO), site, urls))
    return files


_NB_LINK = re.compile(r'href="(\d\d_[A-Za-z0-9_]+)\.ipynb(#[^"]*)?"')


def on_page_content(html: str, page, config, files) -> str:
    """A lesson's link to the next lesson (``02_vae_elbo_kl.ipynb``) -> that lesson's page.

    MkDocs rewrites such links in markdown pages, not inside a rendered notebook.
    """
    if page.file.src_uri.startswith("lessons/") and page.file.src_uri.endswith(".ipynb"):
        prefix = "../" if config["use_directory_urls"] else ""
        suffix = "/" if config["use_directory_urls"] else ".html"
        html = _NB_LINK.sub(
            lambda m: f'href="{prefix}{m.group(1)}{suffix}{m.group(2) or ""}"', html)
    return html
