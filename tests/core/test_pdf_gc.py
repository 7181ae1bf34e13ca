"""Rendering a PDF leaves the garbage collector on, and puts its thresholds back whatever happens.

It used to call ``gc.disable()``: process-wide, so under a threaded server every other request ran
without the collector for as long as a flight's slips took. While rendering, young collections are rarer
and older ones wait; what the render left is collected when it ends (issue #6).
"""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from sosep_migrantes.core import pdf


class _FakeHTML:
    """Stands in for WeasyPrint: records the collector's state, waits when told to, or fails."""

    seen: list[tuple[bool, tuple[int, ...]]] = []
    hold: dict[str, threading.Event] = {}
    fail = False

    def __init__(self, string: str, **kwargs) -> None:
        self.string = string

    def write_pdf(self, **options) -> bytes:
        _FakeHTML.seen.append((gc.isenabled(), gc.get_threshold()))
        event = _FakeHTML.hold.get(self.string.strip())
        if event is not None:
            assert event.wait(5)
        if _FakeHTML.fail:
            raise RuntimeError("WeasyPrint failed")
        return b"%PDF"


@pytest.fixture
def fake_weasyprint(app, monkeypatch):
    monkeypatch.setattr(pdf, "LeanHTML", _FakeHTML)
    monkeypatch.setattr(pdf, "render_template", lambda template, **context: context["name"])
    _FakeHTML.seen, _FakeHTML.hold, _FakeHTML.fail = [], {}, False
    before = gc.get_threshold()
    yield app
    assert gc.isenabled() and gc.get_threshold() == before


def test_the_collector_stays_on_while_rendering(fake_weasyprint):
    default = gc.get_threshold()
    with fake_weasyprint.app_context():
        assert pdf.render_pdf("x", name="one") == b"%PDF"
    [(enabled, during)] = _FakeHTML.seen
    assert enabled
    assert during[0] > default[0] and during[1] > default[1] and during[2:] == default[2:]
    assert gc.get_threshold() == default


class _Cycle:
    """A layout object as WeasyPrint leaves many: in a reference cycle, so only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_what_a_render_left_in_cycles_is_freed_when_it_ends(fake_weasyprint, monkeypatch):
    """Objects a render still held at a young collection (and so moved on to generation 1) are garbage
    once the PDF is written: they are collected then, not left to pile up from one PDF to the next."""
    left: list[weakref.ref[_Cycle]] = []
    write = _FakeHTML.write_pdf

    def write_pdf(self, **options) -> bytes:
        held = [_Cycle() for _ in range(100)]
        left.extend(weakref.ref(obj) for obj in held)
        gc.collect(0)  # a young collection during the render: what is held moves to generation 1
        del held
        return write(self, **options)

    monkeypatch.setattr(_FakeHTML, "write_pdf", write_pdf)
    with fake_weasyprint.app_context():
        pdf.render_pdf("x", name="one")
    assert all(ref() is None for ref in left)


def test_a_failed_render_puts_the_thresholds_back(fake_weasyprint):
    default = gc.get_threshold()
    _FakeHTML.fail = True
    with fake_weasyprint.app_context(), pytest.raises(RuntimeError):
        pdf.render_pdf("x", name="one")
    assert gc.isenabled() and gc.get_threshold() == default


def test_overlapping_renders_restore_when_the_last_one_ends(fake_weasyprint):
    """The first render to end must not put the thresholds back under the other (nor leave them raised)."""
    default = gc.get_threshold()
    first, second = threading.Event(), threading.Event()
    _FakeHTML.hold = {"first": first, "second": second}

    def render(name: str) -> None:
        with fake_weasyprint.app_context():
            pdf.render_pdf("x", name=name)

    threads = [threading.Thread(target=render, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    while len(_FakeHTML.seen) < 2:
        threading.Event().wait(0.01)
    first.set()
    threads[0].join(5)
    assert gc.isenabled() and gc.get_threshold()[0] > default[0], "the other render is still running"
    second.set()
    threads[1].join(5)
    assert gc.isenabled() and gc.get_threshold() == default
