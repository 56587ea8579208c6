"""Build the compiled engine for the sources as they are: `python -m rules.compile` (rules/_native.py).

It needs mypy (a dev dependency: mypyc comes with it), a C compiler and Python's headers; it prints the build's
directory. A build of the same sources is made once; builds of earlier sources are removed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ._native import MODULES, PACKAGE, build_dir


def build() -> Path:
    """Compile MODULES into build_dir() (replacing nothing: a build of these sources is whole or absent)."""
    target = build_dir()
    if (target / "rules").is_dir():
        return target
    with tempfile.TemporaryDirectory(prefix="rules-native-") as work:
        shutil.copytree(PACKAGE, Path(work) / "rules", ignore=shutil.ignore_patterns(".compiled", "__pycache__"))
        files = [f"rules/{name}.py" for name in MODULES]
        subprocess.run([sys.executable, "-m", "mypyc", *files], cwd=work, check=True,
                       stdout=subprocess.DEVNULL)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix="staged-", dir=target.parent))
        for library in Path(work).glob("*__mypyc*.so"):
            shutil.copy2(library, staged)
        for name in MODULES:
            (module,) = (Path(work) / "rules").glob(f"{name}.*.so")
            (staged / "rules" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(module, staged / "rules" / module.relative_to(Path(work) / "rules"))
        staged.rename(target)
    for old in target.parent.iterdir():  # builds of earlier sources
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


if __name__ == "__main__":
    print(build())
