"""Regenerates ``reference/countries.json`` from Debian's iso-codes (pycountry's source).

    apt-get install iso-codes && .venv/bin/python -m scripts.iso_countries

The list is shipped rather than read at run time so that a migration loads the same
countries on every machine, whatever version of iso-codes it has.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

SOURCE = Path("/usr/share/iso-codes/json/iso_3166-1.json")
TARGET = Path(__file__).resolve().parents[1] / "reference" / "countries.json"


def main() -> None:
    entries = json.loads(SOURCE.read_text(encoding="utf-8"))["3166-1"]
    version = subprocess.run(
        ["/usr/bin/dpkg-query", "-W", "-f=${Version}", "iso-codes"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [{"code": e["alpha_2"], "name": e["name"]} for e in entries]
    document = {
        "about": f"ISO 3166-1 alpha-2 codes and short names, from Debian iso-codes {version} "
        "(the data pycountry ships). Regenerate with scripts/iso_countries.py.",
        "countries": sorted(rows, key=lambda row: row["code"]),
    }
    TARGET.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
