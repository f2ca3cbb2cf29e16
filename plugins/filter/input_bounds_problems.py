# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The problems of role variables with the bounds their argument spec cannot express.

This file is the entry point only; the rules are in
plugins/module_utils/input_bounds.py. Documentation for ansible-doc is in the
``input_bounds_problems.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.module_utils.input_bounds import BoundsError, input_problems

FILTER_NAME = "input_bounds_problems"


def input_bounds_problems(values: Any, options: Any, declarations: Any = None) -> List[str]:
    """One sentence per value outside its bounds, naming the variable; empty when all are within them."""
    try:
        return input_problems(values, options, declarations)
    except BoundsError as error:
        raise AnsibleFilterError(f"{FILTER_NAME}: the declared bounds do not fit the argument spec: {error}") from None
    except Exception as error:  # last guard: a bug here must still not surface as a traceback
        raise AnsibleFilterError(f"{FILTER_NAME}: internal error ({type(error).__name__}: {error}); "
                                 f"please report it with the role that caused it") from None


class FilterModule:
    """Bounds of role variables."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: input_bounds_problems}
