"""What saved files take (``reload_decide``): pure decisions over paths and definitions."""

from __future__ import annotations

from pathlib import Path

from lcdev.definitions import LoadedWorkspace, load_workspace
from lcdev.supervisor.reload_decide import classify_paths, decide, watched
from tests.unit.reloadstack import make_files, write


def _load(root: Path) -> LoadedWorkspace:
    loaded = load_workspace(root)
    assert loaded.ok, [str(p) for p in loaded.problems]
    return loaded


def test_paths_are_sorted_by_what_they_belong_to(tmp_path: Path) -> None:
    loaded = make_files(tmp_path)
    dirs = loaded.service_dirs
    changed = classify_paths([
        tmp_path / "lcdev.yaml",
        tmp_path / "stacks" / "default.yaml",
        tmp_path / "services" / "producer" / "service.yaml",
        tmp_path / "services" / "producer" / "handlers" / "extra.py",
        Path("services/hello/app.py"),                      # relative paths work too
        tmp_path / "services" / "fresh" / "service.yaml",   # a folder no one knew
        tmp_path / "README.md",                             # belongs to nothing
    ], tmp_path, dirs)
    assert changed.workspace_file is True
    assert changed.stack_files == ("stacks/default.yaml",)
    assert {name: sorted(p.relative_to(tmp_path).as_posix() for p in paths)
            for name, paths in changed.touched.items()} == {
        "producer": ["services/producer/handlers/extra.py", "services/producer/service.yaml"],
        "hello": ["services/hello/app.py"],
        "fresh": ["services/fresh/service.yaml"],
    }


def test_watch_globs_of_a_code_service(tmp_path: Path) -> None:
    folder = tmp_path / "svc"
    assert watched(folder / "app.py", folder, [])
    assert watched(folder / "static" / "x.css", folder, [])      # no globs: every file
    assert not watched(folder / "service.yaml", folder, [])      # compared as a definition
    assert watched(folder / "src" / "deep" / "m.py", folder, ["*.py"])
    assert not watched(folder / "notes.txt", folder, ["*.py", "src/*"])
    assert watched(folder / "src" / "a.txt", folder, ["src/*"])
    assert not watched(tmp_path / "other" / "app.py", folder, [])  # not below the folder


def test_a_changed_event_swaps_the_producer_and_forces_its_consumers(tmp_path: Path) -> None:
    old = make_files(tmp_path)
    path = write(tmp_path, "services/producer/service.yaml", (tmp_path / "services/producer/"
                 "service.yaml").read_text().replace("title: string(80)!",
                                                     "title: string(80)!\n      note: text"))
    new = _load(tmp_path)
    decision = decide(old, new, classify_paths([path], tmp_path, new.service_dirs))
    assert decision.swap == {"producer": False, "consumer": True}
    assert decision.caused_by == {"consumer": "producer"}
    assert decision.reasons["consumer"] == ["consumes ItemAdded of producer"]
    assert "+ field Item.note" in decision.changes["producer"].words
    assert decision.restart == set()
    assert decision.start == decision.stop == []


def test_escape_hatch_and_code_sources(tmp_path: Path) -> None:
    old = make_files(tmp_path)
    hatch = write(tmp_path, "services/loner/handlers.py", "X = 1\n")
    source = write(tmp_path, "services/hello/app.py", "print('v2')\n")
    readme = write(tmp_path, "services/hello/README.md", "not watched\n")
    new = _load(tmp_path)
    decision = decide(old, new, classify_paths([hatch, source], tmp_path, new.service_dirs))
    assert decision.swap == {"loner": True}  # rebuilt although its definition is the same
    assert decision.restart == {"hello"}
    only_readme = decide(old, new, classify_paths([readme], tmp_path, new.service_dirs))
    assert only_readme.empty  # hello watches *.py only


def test_an_unrelated_save_does_not_retry_other_services(tmp_path: Path) -> None:
    old = make_files(tmp_path)
    write(tmp_path, "services/loner/service.yaml",
          (tmp_path / "services/loner/service.yaml").read_text().replace("1.0.0", "1.1.0"))
    other = write(tmp_path, "services/consumer/notes.md", "hello\n")
    new = _load(tmp_path)
    assert decide(old, new, classify_paths([other], tmp_path, new.service_dirs)).empty


def test_new_and_removed_service_folders(tmp_path: Path) -> None:
    old = make_files(tmp_path)
    fresh = write(tmp_path, "services/fresh/service.yaml",
                  "name: fresh\nversion: 0.1.0\nentities:\n  Thing:\n    fields:\n"
                  "      label: string(20)\n")
    for file in (tmp_path / "services" / "loner").iterdir():
        file.unlink()
    (tmp_path / "services" / "loner").rmdir()
    new = _load(tmp_path)
    gone = tmp_path / "services" / "loner" / "service.yaml"
    decision = decide(old, new, classify_paths([fresh, gone], tmp_path,
                                               {**old.service_dirs, **new.service_dirs}))
    assert decision.start == ["fresh"]
    assert decision.stop == ["loner"]
    assert decision.changes["fresh"].added
    assert decision.changes["loner"].removed


def test_workspace_settings_and_secrets(tmp_path: Path) -> None:
    old = make_files(tmp_path)
    text = (tmp_path / "lcdev.yaml").read_text()
    path = write(tmp_path, "lcdev.yaml", text.replace("gateway: {port: 0}",
                 "gateway: {port: 8899}").replace('"hi"', '"hello"'))
    new = _load(tmp_path)
    decision = decide(old, new, classify_paths([path], tmp_path, new.service_dirs))
    assert decision.workspace is not None
    assert decision.workspace.secrets_changed
    assert any("gateway.port" in line for line in decision.needs_up())
    assert decision.restart == {"hello"}  # its env uses ${secrets.greeting}
    assert decision.reasons["hello"] == ["secret greeting changed"]
    assert decision.swap == {}


def test_apply_forces_named_services(tmp_path: Path) -> None:
    old = make_files(tmp_path)
    new = _load(tmp_path)
    unchanged = classify_paths([tmp_path / "services/loner/service.yaml"], tmp_path,
                               new.service_dirs)
    assert decide(old, new, unchanged).empty
    assert decide(old, new, unchanged, force={"loner"}).swap == {"loner": True}
