"""A PEP 517 build backend of a few lines for the tests' tiny projects: a wheel of the package
folder named in pyproject.toml, with nothing to download (the project's `requires` is empty)."""

import base64
import hashlib
import re
import zipfile
from pathlib import Path


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    text = Path("pyproject.toml").read_text()
    name, version = (re.search(rf'^{key} = "([^"]+)"', text, re.MULTILINE).group(1)
                     for key in ("name", "version"))
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/{f.name}": f.read_bytes() for f in sorted(Path(name).glob("*.py"))}
    files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{dist}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    record = [f"{path},sha256={digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
