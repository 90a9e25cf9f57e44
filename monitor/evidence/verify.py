"""``repwatch evidence verify``: recompute every hash of an export and say what does not match.

Checked: the zip opens and holds a manifest of this format; every file the manifest lists
is there with its SHA-256 and size; no file is there that it does not list; each payload is
named by its own hash; each fetch record's hash names a payload in the zip when the
manifest says its body was kept; and, when ``FILE.zip.sha256`` lies beside the zip, the
whole zip's hash. Any finding means the export was changed after it was written.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from monitor.evidence.export import FORMAT


@dataclass
class Verification:
    path: Path
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: Path) -> Verification:
    """Every check of the module docstring on the zip at ``path``."""
    result = Verification(path)
    try:
        with zipfile.ZipFile(path) as z:
            contents = {i.filename: z.read(i) for i in z.infolist()}
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        result.problems.append(f"cannot read the zip: {exc}")
        return result
    except Exception as exc:  # a damaged member: zlib or CRC errors
        result.problems.append(f"a member cannot be read (damaged): {exc}")
        return result
    try:
        manifest = json.loads(contents.pop("manifest.json"))
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        result.problems.append(f"manifest.json is missing or not a {FORMAT} manifest")
        return result
    listed = {f["path"]: f for f in manifest.get("files", [])}
    for name, entry in sorted(listed.items()):
        body = contents.get(name)
        if body is None:
            result.problems.append(f"{name}: listed in the manifest, missing from the zip")
            continue
        digest = hashlib.sha256(body).hexdigest()
        if digest != entry["sha256"] or len(body) != entry["size"]:
            result.problems.append(f"{name}: SHA-256 {digest}, the manifest says {entry['sha256']}")
        if name.startswith("payloads/") and name != f"payloads/{digest}.bin":
            result.problems.append(f"{name}: not named by its own hash ({digest})")
        result.files += 1
    for name in sorted(set(contents) - set(listed)):
        result.problems.append(f"{name}: in the zip, not in the manifest")
    for f in manifest.get("fetches", []):
        if f.get("body_kept") and f"payloads/{f['sha256']}.bin" not in contents:
            result.problems.append(f"fetch {f['id']}: its payload {f['sha256']} is missing")
    side = Path(f"{path}.sha256")
    if side.is_file():
        recorded = side.read_text(encoding="utf-8").split()[0]
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if recorded != actual:
            result.problems.append(f"{path.name}: SHA-256 {actual}, {side.name} recorded {recorded}")
    return result
