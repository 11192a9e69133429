"""Write a docker-archive image tarball (the `docker save` layout that `ctr images import`
reads) of one directory as a single layer, reproducibly: entries sorted, owner root, mtime 0.

    python3 archive.py ROOTFS REFERENCE CONFIG_JSON OUTPUT.tar
"""

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path


def layer(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(root)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isfile():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def main(root: str, reference: str, config: str, output: str) -> None:
    blob = layer(Path(root))
    diff_id = "sha256:" + hashlib.sha256(blob).hexdigest()
    image_config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": json.loads(config),
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "hack/images/build.sh"}],
        },
        sort_keys=True,
    ).encode()
    config_name = hashlib.sha256(image_config).hexdigest() + ".json"
    layer_name = diff_id.removeprefix("sha256:") + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [reference], "Layers": [layer_name]}]).encode()
    with tarfile.open(output, "w") as tar:
        add(tar, config_name, image_config)
        add(tar, layer_name, blob)
        add(tar, "manifest.json", manifest)


if __name__ == "__main__":
    main(*sys.argv[1:])
