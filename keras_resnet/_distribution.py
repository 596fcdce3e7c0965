"""This project's distribution name, and the unrelated one it must not share a folder with.

"keras-resnet" on the package index is an unrelated 2019 project (0.2.0) that also installs an
import package `keras_resnet`; this project is distributed as "keras3-resnet". Installed into
one environment, the two overwrite each other's `keras_resnet/` files, and the old package's
`keras_resnet/layers/` and `blocks/` folders shadow this package's modules, which otherwise
fails with an obscure error far from its cause. Standard library only: it runs first at import.
"""

import json
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "keras3-resnet"
OLD_DISTRIBUTION = "keras-resnet"


def _installed(name: str, site: Path) -> list[metadata.Distribution]:
    """The distributions `name` that an installer (pip writes INSTALLER) put in `site`; a build's
    leftover egg-info in a source checkout is no installation."""
    return [d for d in metadata.distributions(name=name, path=[str(site)]) if d.read_text("INSTALLER")]


def _reinstall_source(site: Path) -> str:
    """What to reinstall this package from: the folder or file pip installed it from (its
    direct_url.json, as for `pip install .` in a clone), else its name on the index."""
    direct_urls = [d.read_text("direct_url.json") for d in _installed(DISTRIBUTION, site)]
    url = json.loads(direct_urls[0]).get("url", "") if direct_urls and direct_urls[0] else ""
    return unquote(urlparse(url).path) if url.startswith("file:") else DISTRIBUTION


def check_no_old_distribution() -> None:
    """Raise ImportError when the old `keras-resnet` distribution is installed in the folder that
    holds this package, saying what happened and the two commands that fix it.

    Only a shared folder is a conflict: an old package installed elsewhere on sys.path (this
    checkout run in place, an editable install) does not touch these files."""
    package_dir = Path(__file__).resolve().parent
    old = _installed(OLD_DISTRIBUTION, package_dir.parent)
    if not old:
        return
    pip = f"{sys.executable} -m pip"
    raise ImportError(
        f"keras_resnet: the package {OLD_DISTRIBUTION} {old[0].version} is installed in the same place as this "
        f"one ({package_dir}). {OLD_DISTRIBUTION} on the package index is an unrelated project that also "
        f"installs an import package keras_resnet, and this project is distributed as {DISTRIBUTION}; "
        f"installed together, each overwrites the other's keras_resnet/ files, so neither works. "
        f"Fix: remove it (this also deletes the files the two share), then reinstall this one:\n"
        f"  {pip} uninstall -y {OLD_DISTRIBUTION}\n"
        f"  {pip} install --force-reinstall --no-deps '{_reinstall_source(package_dir.parent)}'"
    )
