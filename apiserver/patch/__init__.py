"""The three patch formats the apiserver applies to an object's JSON form.

* JSON patch, RFC 6902 (``application/json-patch+json``): :func:`apply_json_patch`
* JSON merge patch, RFC 7386 (``application/merge-patch+json``): :func:`apply_merge_patch`
* strategic merge patch (``application/strategic-merge-patch+json``), merge keys and
  strategies from a :class:`PatchSchema` (:func:`schema_from_model` for an API model):
  :func:`apply_strategic_merge_patch`

None of them changes its inputs. Their results share untouched subtrees with the input
document (only what the patch reaches is copied), so copy a result before changing it in
place if the input must stay intact. Failures raise :class:`PatchError`.
"""

from apiserver.patch.errors import PatchError
from apiserver.patch.jsonpatch import apply_json_patch
from apiserver.patch.mergepatch import apply_merge_patch
from apiserver.patch.schema import DictSchema, PatchSchema, schema_from_model
from apiserver.patch.strategic import apply_strategic_merge_patch

__all__ = [
    "PatchError",
    "PatchSchema",
    "DictSchema",
    "schema_from_model",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
]
