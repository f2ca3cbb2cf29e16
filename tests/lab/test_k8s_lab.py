"""lab/k8s_lab.py, the command line: the same sub-commands as callers use
(lab/setup.sh, the kubernetes scenario, its tests). The lab cluster's own parts
are tested per module in tests/lab/test_k8s_*.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import k8s_lab  # noqa: E402  (lab/ is not a package)


def test_the_sub_commands_are_the_ones_callers_use():
    parser = k8s_lab.argument_parser()
    choices = next(action.choices for action in parser._actions if action.dest == "command")
    assert list(choices) == ["build", "up", "down", "guards", "nodes", "node-stop", "node-start", "images",
                             "kubeconfig", "kubectl", "status", "provisioner"]
    args = parser.parse_args(["kubectl", "get", "pods", "-A"])
    assert (args.command, args.arguments) == ("kubectl", ["get", "pods", "-A"])


def test_kubeconfig_prints_the_admin_kubeconfigs_path(tmp_path):
    """Run as callers run it (a script, lab/ first on its path): the package
    imports and the path is under LGTM_CACHE."""
    result = subprocess.run([sys.executable, str(REPO / "lab" / "k8s_lab.py"), "kubeconfig"],
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "LGTM_CACHE": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "k8s" / "admin.conf")
