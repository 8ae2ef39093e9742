"""run_standard collects a federated child started earlier (as `unireps demo` does, before the real networks)
instead of starting a second one, and stops it when a section fails."""

from __future__ import annotations

import pytest

from unireps.report import standard


class FakeChild:
    def __init__(self):
        self.stopped = False

    def result(self):
        return ({}, {}, {"federated_marker": 7}), 12.5, 3.25

    def stop(self):
        self.stopped = True


class InProcessChild(FakeChild):
    started: list = []

    def __init__(self, fn, *args):
        super().__init__()
        self.fn, self.args = fn, args
        InProcessChild.started.append(self)

    def result(self):
        return self.fn(*self.args), 4.0, 2.0


@pytest.fixture
def stubbed(monkeypatch):
    InProcessChild.started = []
    for name in dir(standard):
        if name.startswith("section_"):
            monkeypatch.setattr(standard, name, lambda *a, **k: ({}, {}, {}))
    monkeypatch.setattr(standard, "eval_set", lambda n: list(range(n)))
    monkeypatch.setattr(standard, "_available", lambda preset: set())
    import unireps.zoo

    monkeypatch.setattr(unireps.zoo, "build", lambda **kw: None)

    def no_second_child(fn, *a, **k):
        if fn is standard._sections_in_child:  # the side sections' own child: run in-process here
            return InProcessChild(fn, *a)
        raise AssertionError("run_standard started a second federated child")

    monkeypatch.setattr(standard, "ChildSection", no_second_child)


def test_an_early_federated_child_is_collected_not_restarted(stubbed):
    child = FakeChild()
    out = standard.run_standard(standard.RunConfig(), progress=None, federated=child)
    assert out.numbers["federated_marker"] == 7
    assert (out.timings["federated"], out.cpu_times["federated"]) == (12.5, 3.25)


def test_a_failing_section_stops_the_early_child(stubbed, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("section failed")

    monkeypatch.setattr(standard, "section_brain", boom)
    child = FakeChild()
    with pytest.raises(RuntimeError, match="section failed"):
        standard.run_standard(standard.RunConfig(), progress=None, federated=child)
    assert child.stopped


def test_start_federated_is_none_when_the_section_runs_in_process_or_not_at_all():
    assert standard.start_federated(standard.RunConfig(federated_background=False), progress=None) is None
    assert standard.start_federated(standard.RunConfig(applications=False), progress=None) is None


def test_the_child_can_be_left_running_and_collected_after_other_work(stubbed):
    child = FakeChild()
    out = standard.run_standard(standard.RunConfig(), progress=None, federated=child, collect_federated=False)
    assert out.pending_federated is child and "federated_marker" not in out.numbers and not child.stopped
    standard.finish_federated(out, progress=None)
    assert out.pending_federated is None and out.numbers["federated_marker"] == 7
    assert out.timings["federated"] == 12.5 and out.timings["federated: wait"] >= 0


def test_a_child_that_fails_while_collected_is_stopped_and_its_error_raised():
    class Broken(FakeChild):
        def result(self):
            raise ValueError("the federated grid failed")

    child = Broken()
    out = standard.RunResults(pending_federated=child)
    with pytest.raises(ValueError, match="grid failed"):
        standard.finish_federated(out, progress=None)
    assert child.stopped and out.pending_federated is None


def test_the_side_sections_run_in_their_own_child_and_keep_their_order(stubbed, monkeypatch):
    for name in ("brain", "depth", "brain_depth", "applications"):
        monkeypatch.setattr(standard, f"section_{name}",
                            lambda *a, name=name: ({}, {f"fig_{name}": 1}, {f"{name}_marker": 1}))
    out = standard.run_standard(standard.RunConfig(seed=3), progress=None, federated=FakeChild())
    [lane] = InProcessChild.started
    assert lane.fn is standard._sections_in_child and lane.args[2] == ["brain", "brain_depth", "applications"]
    assert list(out.figures) == ["fig_brain", "fig_depth", "fig_brain_depth", "fig_applications"]
    assert out.timings["applications"] >= 0 and out.timings["side sections: wait"] >= 0 and "depth" in out.timings


def test_without_the_side_process_every_section_runs_in_process(stubbed, monkeypatch):
    monkeypatch.setattr(standard, "section_applications", lambda cfg: ({}, {}, {"applications_marker": 1}))
    out = standard.run_standard(standard.RunConfig(side_process=False), progress=None, federated=FakeChild())
    assert InProcessChild.started == [] and out.numbers["applications_marker"] == 1
    assert "side sections: wait" not in out.timings


def test_cached_side_sections_are_read_not_run(stubbed, monkeypatch, tmp_path):
    cfg = standard.RunConfig(result_cache=str(tmp_path))
    standard.run_standard(cfg, progress=None, federated=FakeChild())
    assert len(InProcessChild.started) == 1

    def never(*a, **k):
        raise AssertionError("a cached section ran")

    for name in standard.SIDE_SECTIONS:
        monkeypatch.setattr(standard, f"section_{name}", never)
    out = standard.run_standard(cfg, progress=None, federated=FakeChild())
    assert len(InProcessChild.started) == 1 and set(standard.SIDE_SECTIONS) <= set(out.reused)


def test_a_failing_section_stops_the_side_child_too(stubbed, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("section failed")

    monkeypatch.setattr(standard, "section_layers", boom)
    with pytest.raises(RuntimeError, match="section failed"):
        standard.run_standard(standard.RunConfig(), progress=None, federated=FakeChild())
    [lane] = InProcessChild.started
    assert lane.stopped
