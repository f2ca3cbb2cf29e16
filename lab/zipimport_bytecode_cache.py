"""The lab's hosts and its tools' virtualenv only (lab/images.sh and lab/setup.sh install it
with a .pth file that imports it): keep the bytecode of modules that Python imports from zip
files, which Ansible's module payloads are.

Every Ansible task on a lab host runs its module from a new zip file, and zipimport compiles
each module it loads from source and never caches the result: `ansible.module_utils.basic`
and what it imports, about 60 ms of the 170 ms of CPU a task's module takes on a lab host,
every task (measured with 40 `stat` tasks on a lab host: 219 ms of CPU each without the
cache, 136 with it). This cache keys the compiled code by the source's digest and the
interpreter's cache tag, so an unchanged module is compiled once per host. It changes nothing
a module does: the code object is the one `compile` returned for the same source. In a
virtualenv (the controller's modules, run by the tools' interpreter) the cache lives in the
virtualenv, so a new lab cache starts without it.

Where the cache cannot be written (a task run as an unprivileged user), the module is
compiled as before.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import sys
import zipimport

_ROOT = (os.path.join(sys.prefix, "zipimport-bytecode") if sys.prefix != sys.base_prefix
         else "/var/cache/lab-zipimport-bytecode")
CACHE_DIR = os.path.join(_ROOT, sys.implementation.cache_tag or "none")
_compile_source = getattr(zipimport, "_compile_source", None)


def cached_compile(pathname: str, source: bytes):
    """zipimport's compile, from the cache when the same source was compiled before."""
    digest = hashlib.sha256(source if isinstance(source, bytes) else source.encode()).hexdigest()
    path = os.path.join(CACHE_DIR, digest)
    try:
        with open(path, "rb") as handle:
            return marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _compile_source(pathname, source)
    try:
        os.makedirs(CACHE_DIR, mode=0o755, exist_ok=True)
        partial = f"{path}.{os.getpid()}"
        with open(partial, "wb") as handle:
            marshal.dump(code, handle)
        os.replace(partial, path)
    except OSError:
        pass
    return code


# Python versions whose zipimport compiles through this private function (3.8 to 3.13 at
# least); on another, nothing changes.
if _compile_source is not None:
    zipimport._compile_source = cached_compile
