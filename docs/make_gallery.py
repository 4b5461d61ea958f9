r"""Make the site's gallery: run the reproductions and copy each one's figure and report into docs/gallery/.

    python docs/make_gallery.py                  # every registered reproduction (jaxcollapse reproduce --all)
    python docs/make_gallery.py NAME [NAME ...]  # only these (the others' files are kept)
    python docs/make_gallery.py --scale 0.5      # another scale (default: SCALE below)

It runs ``jaxcollapse reproduce --all --scale S --seed 0`` (or the names given) into a temporary folder; a
reproduction whose statistical floor (`Reproduction.floor`) is above ``S`` runs at its floor instead, in a
command of its own, so that no report in the gallery warns that its standard errors are too wide to judge
agreement. Then it copies, for each reproduction, ``<name>.png``, ``report.txt`` and ``report.csv`` into
``docs/gallery/<name>/`` and records in ``docs/gallery/gallery.json`` how they were made (scale, seed,
seconds, date, the SHA-256 of the reproduction's module, which the site's build compares with the module's
current source). With no names
it also removes the folders of reproductions no longer registered. A reproduction that does not agree is
shown as it is (its report says NOT REPRODUCED): the script copies it, says so, and exits 1.

The committed gallery files come from this script only; ``mkdocs build --strict`` fails when a registered
reproduction has none, when its report's head no longer matches the registry, or when its module changed
since (docs/hooks.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "gallery"
MANIFEST = GALLERY / "gallery.json"
SCALE = 0.1
"""The gallery's default scale: the issue's ``jaxcollapse reproduce --all --scale 0.1``. It multiplies the chain
counts only (the papers' sizes, generations and grids stay), so the figures are the papers' setups with wider
standard errors; every reproduction's full-scale run is ``jaxcollapse reproduce NAME``."""
FILES = ("{name}.png", "report.txt", "report.csv")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python docs/make_gallery.py", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NAME", help="reproductions to (re)make; default: all")
    p.add_argument("--scale", type=float, default=SCALE, help=f"chain-count multiplier (default {SCALE:g})")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "docs"))
    from hooks import module_digest

    from jaxcollapse import papers

    known = papers.names()
    chosen = list(dict.fromkeys(args.names)) or list(known)
    bad = [n for n in chosen if n not in known]
    if bad:
        p.error(f"unknown reproduction(s) {', '.join(bad)}; known: {', '.join(known)}")
    # each reproduction at the gallery's scale, or at its statistical floor where that is higher (below it the
    # report warns that the standard errors are too wide to judge agreement)
    scales = {name: max(args.scale, float(papers.get(name).floor)) for name in chosen}
    groups: dict[float, list[str]] = {}
    for name in chosen:
        groups.setdefault(scales[name], []).append(name)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
    entries = manifest.setdefault("entries", {})
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    not_reproduced = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (scale, group) in enumerate(sorted(groups.items())):
            out = Path(tmp) / f"out{k}"
            which = ["--all"] if len(groups) == 1 and not args.names else group
            cmd = [sys.executable, "-m", "jaxcollapse.cli", "reproduce", *which, "--scale", f"{scale:g}",
                   "--seed", str(args.seed), "--out", str(out)]
            print(f"make_gallery: jaxcollapse reproduce {' '.join(which)} --scale {scale:g} --seed {args.seed}",
                  flush=True)
            rc = subprocess.run(cmd, cwd=ROOT).returncode
            if rc not in (0, 1):  # 1: some report line disagrees (the report says which): shown as it is
                print(f"make_gallery: jaxcollapse reproduce exited {rc}; the gallery is unchanged", file=sys.stderr)
                return rc
            single = len(group) == 1 and which != ["--all"]  # one name writes into out itself, else a subfolder each
            for name in group:
                src = out if single else out / name
                dest = GALLERY / name
                if dest.exists():
                    shutil.rmtree(dest)
                dest.mkdir(parents=True)
                for pattern in FILES:
                    shutil.copy2(src / pattern.format(name=name), dest / pattern.format(name=name))
                report = (dest / "report.txt").read_text(encoding="utf-8")
                m = re.search(r"^scale \S+, ([0-9.]+) s$", report, re.M)
                if "NOT REPRODUCED" in report.rstrip().rsplit("\n", 1)[-1]:
                    not_reproduced.append(name)
                entries[name] = {"scale": scale, "seed": args.seed, "seconds": float(m.group(1)) if m else None,
                                 "generated": today,
                                 "command": f"jaxcollapse reproduce {name} --scale {scale:g} --seed {args.seed}",
                                 "module_sha256": module_digest(papers.get(name))}
    if not args.names:  # a full run: drop what is no longer registered
        for d in GALLERY.iterdir():
            if d.is_dir() and d.name not in known:
                shutil.rmtree(d)
                print(f"make_gallery: removed docs/gallery/{d.name}/ (not registered)")
        for name in list(entries):
            if name not in known:
                del entries[name]
    manifest["entries"] = dict(sorted(entries.items()))
    GALLERY.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"make_gallery: wrote {len(chosen)} reproduction(s) to docs/gallery/")
    if not_reproduced:
        print(f"make_gallery: NOT REPRODUCED (shown as is): {', '.join(not_reproduced)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
