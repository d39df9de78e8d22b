"""Generate the docs sections that mirror the code (CLI help, settings); used by test_docs and scripts/update-docs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]


def cli_help() -> str:
    from indexer.cli import main as index_manifest
    from search_service.cli import main as iiif_search

    parts = []
    commands = [
        ("index-manifest", index_manifest, []),
        ("iiif-search", iiif_search, []),
        ("iiif-search serve", iiif_search, ["serve"]),
        ("iiif-search list", iiif_search, ["list"]),
        ("iiif-search remove", iiif_search, ["remove"]),
        ("iiif-search keys add", iiif_search, ["keys", "add"]),
        ("iiif-search keys list", iiif_search, ["keys", "list"]),
        ("iiif-search keys remove", iiif_search, ["keys", "remove"]),
    ]
    for name, command, args in commands:
        result = CliRunner().invoke(command, [*args, "--help"], prog_name=name.split()[0], terminal_width=100)
        parts.append(f"### `{name}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def settings_table() -> str:
    from search_service.settings import Settings

    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "(current dir)/data" if name == "data_dir" else repr(field.get_default(call_default_factory=True))
        rows.append(f"| `IIIF_SEARCH_{name.upper()}` | `{default}` | {field.description} |")
    return "\n".join(rows) + "\n"


SECTIONS = {
    REPO / "docs/cli.md": ("CLI-HELP", cli_help),
    REPO / "docs/configuration.md": ("SETTINGS", settings_table),
}


def render(path: Path) -> str:
    marker, produce = SECTIONS[path]
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- {marker} -->\n).*?(<!-- /{marker} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: markers <!-- {marker} --> ... <!-- /{marker} --> missing")
    return pattern.sub(lambda m: m.group(1) + produce() + m.group(2), text)


def main() -> None:
    for path in SECTIONS:
        path.write_text(render(path), encoding="utf-8")
        print(f"updated {path.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
