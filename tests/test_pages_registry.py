"""The page list (dashboard/pages/__init__.py): a missing or broken page module fails loudly."""
from __future__ import annotations

import importlib.abc
import importlib.util
import subprocess
import sys
import textwrap

import pytest

import dashboard.pages as pages
from tests.conftest import ROOT


class _FakePages(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``dashboard.pages.<name>`` modules from source text (without touching disk)."""

    def __init__(self, sources: dict[str, str]):
        self.sources = sources

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.sources:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self.sources[module.__name__], module.__dict__)


@pytest.fixture
def fake_pages(monkeypatch):
    def install(**sources):
        full = {f"dashboard.pages.{name}": textwrap.dedent(src) for name, src in sources.items()}
        monkeypatch.setattr(sys, "meta_path", [_FakePages(full), *sys.meta_path])
        for name in full:
            monkeypatch.delitem(sys.modules, name, raising=False)
    return install


def test_every_listed_page_is_loaded():
    assert [p.__name__.rsplit(".", 1)[1] for p in pages.PAGES] == pages.ORDER
    assert len({p.PATH for p in pages.PAGES}) == len(pages.ORDER)


def test_missing_page_module_raises_import_error_naming_it(monkeypatch):
    monkeypatch.setattr(pages, "ORDER", [*pages.ORDER, "no_such_page"])
    with pytest.raises(ImportError, match=r"dashboard\.pages\.no_such_page does not exist") as err:
        pages.load_pages()
    assert err.value.name == "dashboard.pages.no_such_page"


def test_page_module_that_fails_to_import_is_named(monkeypatch, fake_pages):
    fake_pages(broken="raise RuntimeError('boom')\n")
    monkeypatch.setattr(pages, "ORDER", ["overview", "broken"])
    with pytest.raises(ImportError, match=r"dashboard\.pages\.broken failed to import.*boom"):
        pages.load_pages()


def test_page_module_missing_a_dependency_is_named(monkeypatch, fake_pages):
    # a ModuleNotFoundError from inside the page is reported as that page's failure
    fake_pages(needs_dep="import lantian_no_such_dependency\n")
    monkeypatch.setattr(pages, "ORDER", ["needs_dep"])
    with pytest.raises(ImportError, match=r"dashboard\.pages\.needs_dep failed to import"
                                          r".*lantian_no_such_dependency"):
        pages.load_pages()


def test_page_module_without_layout_is_refused(monkeypatch, fake_pages):
    fake_pages(half="PATH = '/half'\nNAME = TITLE = 'half'\n")
    monkeypatch.setattr(pages, "ORDER", ["half"])
    with pytest.raises(ImportError, match=r"dashboard\.pages\.half lacks layout"):
        pages.load_pages()


def test_app_creation_fails_when_a_page_module_is_broken():
    """In a fresh process (the page list is built once per process), a page module
    that raises on import stops ``create_app`` with an ImportError naming it."""
    script = textwrap.dedent("""
        import importlib.abc, importlib.util, sys

        class Broken(importlib.abc.MetaPathFinder, importlib.abc.Loader):
            def find_spec(self, fullname, path=None, target=None):
                if fullname == "dashboard.pages.district":
                    return importlib.util.spec_from_loader(fullname, self)
            def create_module(self, spec):
                return None
            def exec_module(self, module):
                raise SyntaxError("half-edited page")

        sys.meta_path.insert(0, Broken())
        try:
            from dashboard.app import create_app
            create_app("sqlite://", cache_url="")
        except ImportError as error:
            print("ImportError:", error)
            sys.exit(3)
        print("app created")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr[-2000:]
    assert "dashboard.pages.district failed to import" in done.stdout
    assert "half-edited page" in done.stdout
