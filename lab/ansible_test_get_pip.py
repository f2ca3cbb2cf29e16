"""Pip bootstrap for ansible-test's sanity virtual environments.

ansible-test bootstraps pip in each sanity venv by running a get-pip script it
downloads from a file host this machine cannot reach, unless a copy sits in its
cache (~/.ansible/test/cache/get_pip_<version>.py). `make sanity` puts this file
there. It does what get-pip does with what is reachable: pip from the
interpreter's own ensurepip, then the exact packages ansible-test asks for
(pip==<version> among them) from the package index.
"""
import subprocess
import sys

# get-pip's own switches; plain pip does not know them.
GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    pip_args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", *pip_args])


if __name__ == "__main__":
    main()
