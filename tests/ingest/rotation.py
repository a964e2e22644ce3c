"""Log rotation as operators run it, with the inode reuse ext4 gives the next file created."""

from __future__ import annotations

from pathlib import Path

SAMPLE = (
    b'{"time":"2026-11-26T19:21:38+00:00","remote_addr":"127.0.0.1","remote_user":"ci-bot",'
    b'"request_method":"GET","request_uri":"/v2/team/app/manifests/%d","status":200,"body_bytes_sent":%d,'
    b'"request_length":159,"request_time":0.001,"http_user_agent":"skopeo/1.9.3","http_x_forwarded_for":"",'
    b'"request_id":"%032x","upstream_digest":"","ssl_protocol":"TLSv1.3","host":"127.0.0.1"}'
)


def access_lines(start: int, n: int) -> list[bytes]:
    """nginx JSON lines (FORMATS.md 3.1), each distinct; lines of numbers with as many digits are as long."""
    return [SAMPLE % (i, 1000 + i, i) for i in range(start, start + n)]


def append(path: Path, lines: list[bytes]) -> None:
    with path.open("ab") as handle:
        for line in lines:
            handle.write(line + b"\n")


def create_on_inode(path: Path, inode: int, attempts: int = 20_000) -> None:
    """Create an empty file at ``path`` on the freed ``inode``, as the next file created gets it on ext4.

    ext4 gives a new file the lowest free inode of its directory's block group; another process on the machine
    may free a lower one at the same time, so files are created until one lands on ``inode`` and renamed into
    place (a rename keeps the inode), the way nginx's reopen creates the path.
    """
    fillers: list[Path] = []
    try:
        for n in range(attempts):
            filler = path.with_name(f".filler-{n}")
            filler.touch()
            if filler.stat().st_ino == inode:
                filler.rename(path)
                return
            fillers.append(filler)
    finally:
        for filler in fillers:
            filler.unlink()
    raise AssertionError(f"the file system did not give inode {inode} back (ext4, xfs and overlay on them do)")


def rotate(log: Path) -> int:
    """The documented daily rotation: drop the old generation, rename, nginx reopens (creates) the path.

    Returns the new file's inode: the dropped generation's, given back.
    """
    rotated = log.with_name(log.name + ".1")
    freed = rotated.stat().st_ino if rotated.exists() else None
    rotated.unlink(missing_ok=True)
    log.rename(rotated)
    if freed is None:
        log.touch()
    else:
        create_on_inode(log, freed)
    return log.stat().st_ino


def replace_on_same_inode(log: Path, lines: list[bytes]) -> None:
    """Delete the log and write a new one with ``lines`` on the inode the deleted one had."""
    inode = log.stat().st_ino
    log.unlink()
    create_on_inode(log, inode)
    append(log, lines)
