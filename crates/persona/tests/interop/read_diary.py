"""Opens a diary with Python's `cryptography` Fernet, independently of the Rust code.

Usage: read_diary.py <file.diary>   (the phrase on stdin; the id is the file name's stem)
Prints one JSON object: {"entries": {name: sha256 hex or null for a folder}}.
Exit status 3 when `cryptography` is not installed, so the caller can skip.
"""

import base64
import hashlib
import io
import json
import pathlib
import sys
import zipfile

try:
    from cryptography.fernet import Fernet
except ImportError:
    sys.exit(3)


def main() -> None:
    path = pathlib.Path(sys.argv[1])
    phrase = sys.stdin.read().strip()
    persona_id = path.stem
    raw = hashlib.pbkdf2_hmac("sha256", phrase.encode(), persona_id.encode(), 480000, 32)
    plain = Fernet(base64.urlsafe_b64encode(raw)).decrypt(path.read_bytes())
    entries = {}
    with zipfile.ZipFile(io.BytesIO(plain)) as archive:
        if archive.testzip() is not None:
            sys.exit("a ZIP entry fails its CRC")
        for info in archive.infolist():
            if info.is_dir():
                entries[info.filename.rstrip("/")] = None
            else:
                entries[info.filename] = hashlib.sha256(archive.read(info)).hexdigest()
    json.dump({"entries": entries}, sys.stdout)


main()
