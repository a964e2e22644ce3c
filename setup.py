"""Maps the design's top-level folders under one ``regaudit`` package (DESIGN.md section 1).

``analytics`` and friends are generic names; installed as ``regaudit.analytics`` they cannot clash with
PyPI packages of the same name. Editable and regular installs both use this mapping.
"""

from setuptools import find_packages, setup

ROOTS = {
    "regaudit": "regaudit",
    "regaudit.schemas": "schemas",
    "regaudit.ingest": "ingest",
    "regaudit.analytics": "analytics",
    "regaudit.dashboard": "dashboard",
}

packages: list[str] = []
package_dir: dict[str, str] = {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    for sub in find_packages(folder):
        packages.append(f"{name}.{sub}")
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"": ["*.sql", "*.json", "*.md", "*.toml", "py.typed"]},
    include_package_data=True,
)
