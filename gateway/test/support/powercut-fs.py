#!/usr/bin/python3
"""
powercut-fs: a FUSE file system for power-loss tests (in the spirit of Jepsen's LazyFS).

    powercut-fs.py BACKING_DIR MOUNTPOINT CONTROL_FILE

Passes everything through to BACKING_DIR, except that file contents written and not yet fsynced
are kept in memory (page by page), as a disk's volatile cache would. A "cut" drops all of them at
once, like pulling the plug; `kill -9` alone does not test this, since the kernel's page cache
outlives a killed process. After a cut every operation fails with EIO until "resume", so the
process under test writes nothing more (kill it, then resume, then start it again).

Commands: write one JSON object with a new "id" to CONTROL_FILE (it is polled); "done <id>" on
stdout confirms it:
    {"cut": true}                                  cut now
    {"cutOnWrite": {"suffix": "-wal", "nth": 3}}   cut at the nth write to a file ending in suffix
    {"failFsync": true}                            fsync fails with EIO (data stays unsynced)
    {"resume": true}                               after a cut: work again (unsynced data is gone)
Every cut prints "cut <reason>" on stdout.

Limits: metadata (create, rename, unlink, truncate of a new size) goes to the backing directory at
once, as on a journaling file system whose metadata commits are ordered before the data; only file
contents are volatile. No direct_io, so SQLite's shared mmap of its -shm file works, and locks are
left to the kernel.
"""
import errno
import json
import os
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

PAGE = 4096


class PowerCutFS(Operations):
    def __init__(self, root, control):
        self.root = root
        self.control = control
        self.mutex = threading.RLock()
        # path -> {"pages": {index: bytearray}, "size": logical size}
        self.dirty = {}
        self.cut_active = False
        self.cut_on_write = None
        self.fail_fsync = False
        self.writes = {}

    # --- control -----------------------------------------------------------------------------
    def poll(self):
        """Signals do not reach Python while libfuse's loop runs: watch the control file instead."""
        last = None
        while True:
            time.sleep(0.01)
            try:
                with open(self.control) as f:
                    cmd = json.load(f)
            except (OSError, ValueError):
                continue
            if cmd.get("id") != last:
                last = cmd.get("id")
                self.command(cmd)
                print(f"done {last}", flush=True)

    def command(self, cmd):
        with self.mutex:
            if cmd.get("cut"):
                self.cut("command")
            if "cutOnWrite" in cmd:
                self.cut_on_write = cmd["cutOnWrite"]
                self.writes = {}
            if "failFsync" in cmd:
                self.fail_fsync = bool(cmd["failFsync"])
            if cmd.get("resume"):
                self.cut_active = False

    def cut(self, reason):
        self.dirty.clear()
        self.cut_active = True
        self.cut_on_write = None
        print(f"cut {reason}", flush=True)

    def check(self):
        if self.cut_active:
            raise FuseOSError(errno.EIO)

    def full(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # --- the volatile cache ------------------------------------------------------------------
    def entry(self, path):
        e = self.dirty.get(path)
        if e is None:
            e = {"pages": {}, "size": os.path.getsize(self.full(path))}
            self.dirty[path] = e
        return e

    def page(self, path, e, index):
        p = e["pages"].get(index)
        if p is None:
            with open(self.full(path), "rb") as f:
                f.seek(index * PAGE)
                p = bytearray(f.read(PAGE))
            p.extend(b"\0" * (PAGE - len(p)))
            e["pages"][index] = p
        return p

    def flush_to_disk(self, path):
        e = self.dirty.pop(path, None)
        if e is None:
            return
        fd = os.open(self.full(path), os.O_WRONLY)
        try:
            for index in sorted(e["pages"]):
                start = index * PAGE
                if start >= e["size"]:
                    continue
                os.pwrite(fd, bytes(e["pages"][index][: e["size"] - start]), start)
            os.ftruncate(fd, e["size"])
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- file system operations --------------------------------------------------------------
    def getattr(self, path, fh=None):
        with self.mutex:
            self.check()
            st = os.lstat(self.full(path))
            attrs = {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size", "st_uid")}
            if path in self.dirty:
                attrs["st_size"] = self.dirty[path]["size"]
            return attrs

    def readdir(self, path, fh):
        self.check()
        return [".", ".."] + os.listdir(self.full(path))

    def access(self, path, mode):
        self.check()
        if not os.access(self.full(path), mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        self.check()
        os.chmod(self.full(path), mode)

    def chown(self, path, uid, gid):
        self.check()
        os.chown(self.full(path), uid, gid)

    def utimens(self, path, times=None):
        self.check()
        os.utime(self.full(path), times)

    def mkdir(self, path, mode):
        self.check()
        os.mkdir(self.full(path), mode)

    def rmdir(self, path):
        self.check()
        os.rmdir(self.full(path))

    def statfs(self, path):
        st = os.statvfs(self.full(path))
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

    def unlink(self, path):
        with self.mutex:
            self.check()
            self.dirty.pop(path, None)
            os.unlink(self.full(path))

    def rename(self, old, new):
        with self.mutex:
            self.check()
            os.rename(self.full(old), self.full(new))
            if old in self.dirty:
                self.dirty[new] = self.dirty.pop(old)
            else:
                self.dirty.pop(new, None)

    def open(self, path, flags):
        self.check()
        return 0

    def create(self, path, mode, fi=None):
        with self.mutex:
            self.check()
            os.close(os.open(self.full(path), os.O_WRONLY | os.O_CREAT, mode))
            return 0

    def read(self, path, size, offset, fh):
        with self.mutex:
            self.check()
            e = self.dirty.get(path)
            if e is None:
                with open(self.full(path), "rb") as f:
                    f.seek(offset)
                    return f.read(size)
            end = min(offset + size, e["size"])
            out = bytearray()
            at = offset
            while at < end:
                index, within = divmod(at, PAGE)
                n = min(PAGE - within, end - at)
                out += self.page(path, e, index)[within : within + n]
                at += n
            return bytes(out)

    def write(self, path, data, offset, fh):
        with self.mutex:
            self.check()
            w = self.cut_on_write
            if w and path.endswith(w["suffix"]):
                self.writes[path] = self.writes.get(path, 0) + 1
                if self.writes[path] >= w["nth"]:
                    self.cut(f"on write {self.writes[path]} to {path}")
                    raise FuseOSError(errno.EIO)
            e = self.entry(path)
            at = 0
            while at < len(data):
                index, within = divmod(offset + at, PAGE)
                n = min(PAGE - within, len(data) - at)
                self.page(path, e, index)[within : within + n] = data[at : at + n]
                at += n
            e["size"] = max(e["size"], offset + len(data))
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.mutex:
            self.check()
            e = self.entry(path)
            e["size"] = length
            for index in [i for i in e["pages"] if i * PAGE >= length]:
                del e["pages"][index]
            if length % PAGE and (length // PAGE) in e["pages"]:
                p = e["pages"][length // PAGE]
                p[length % PAGE :] = b"\0" * (PAGE - length % PAGE)

    def fsync(self, path, datasync, fh):
        with self.mutex:
            self.check()
            if self.fail_fsync:
                raise FuseOSError(errno.EIO)
            self.flush_to_disk(path)

    def flush(self, path, fh):
        self.check()

    def release(self, path, fh):
        return 0

    def fsyncdir(self, path, datasync, fh):
        self.check()


def main():
    root, mountpoint, control = sys.argv[1:4]
    fs = PowerCutFS(os.path.realpath(root), control)
    threading.Thread(target=fs.poll, daemon=True).start()
    # attr/entry timeouts 0: after a cut, sizes come from here, never from the kernel's cache.
    FUSE(fs, mountpoint, foreground=True, nothreads=False, attr_timeout=0, entry_timeout=0, negative_timeout=0)


if __name__ == "__main__":
    main()
