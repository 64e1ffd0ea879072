"""The flattened site config both engines read, checked against MkDocs's own reading of INHERIT."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.site.engines import SiteError, build_with, flat_config, write_config

BASE = """\
site_name: Base
theme:
  name: material
  features: [navigation.instant, toc.follow]
  palette: {scheme: default, primary: indigo}
markdown_extensions:
  - pymdownx.superfences:
      custom_fences:
        - name: math
          class: arithmatex
          format: !!python/name:pymdownx.superfences.fence_code_format
extra:
  from_env: !ENV [COURSE_TEST_UNSET_VARIABLE, fallback]
  kept: 1
"""
CHILD = """\
INHERIT: base/base.yml
site_name: Child
theme:
  palette: {scheme: slate}
extra:
  added: 2
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "base.yml").write_text(BASE)
    (tmp_path / "mkdocs.yml").write_text(CHILD)
    (tmp_path / "build" / "docs").mkdir(parents=True)
    (tmp_path / "build" / "docs" / "index.md").write_text("# Home\n")
    return tmp_path


def test_flattened_config_reads_as_mkdocs_reads_the_inheriting_one(project: Path) -> None:
    from mkdocs.config import load_config

    nav = [{"Home": "index.md"}]
    flat = write_config(
        project / "mkdocs.yml",
        project / "build" / "flat.yml",
        project / "build" / "docs",
        project / "build" / "out",
        nav,
    )
    assert "INHERIT" not in flat.read_text()
    reference = load_config(config_file=str(project / "mkdocs.yml"), docs_dir="build/docs")
    ours = load_config(config_file=str(flat))
    assert ours["site_name"] == reference["site_name"] == "Child"
    for key in ("features", "palette", "name"):
        assert ours["theme"][key] == reference["theme"][key], key
    assert ours["extra"] == reference["extra"] == {"from_env": "fallback", "kept": 1, "added": 2}
    fences = [config["mdx_configs"]["pymdownx.superfences"] for config in (ours, reference)]
    assert fences[0] == fences[1] and fences[0]["custom_fences"][0]["format"].__name__ == (
        "fence_code_format"
    )
    assert ours["nav"] == nav
    assert Path(ours["docs_dir"]) == project / "build" / "docs"
    assert Path(ours["site_dir"]) == project / "build" / "out"


def test_an_inherit_loop_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("INHERIT: b.yml\nsite_name: A\n")
    (tmp_path / "b.yml").write_text("INHERIT: a.yml\n")
    with pytest.raises(SiteError, match="INHERIT loops back"):
        flat_config(tmp_path / "a.yml")


def test_an_unknown_engine_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="choose one of mkdocs, zensical"):
        build_with("hugo", tmp_path / "mkdocs.yml")
