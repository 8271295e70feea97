"""How the BFCL teacher teaches looking before acting on state an expert cannot see.

BFCL's ground truth knows the file system: ``cd(folder='documents')`` goes into a folder that the
staff agent has never seen listed (and the user's words often name it loosely, "the document
folder", or not at all). An expert that learns those calls as they are learns to ``cd`` first
into a name of its own: in the experts experiment's first round the trained file-system expert
opened most attempts with ``cd`` into an invented folder (``my_dir``, ``file_system``). So before
each ``cd`` into a child folder the teacher's staff agent first lists the directory (``ls``), and
the folder it then enters is one the observation shows. The rule is the same whether or not the
user named the folder: one consistent habit is easier for a small model to learn than a
condition. A look changes no state, and BFCL's checker accepts extra calls that change nothing,
so the turn still verifies. Looks are added only while the attempt stays within its call budget.
"""

from __future__ import annotations

from benchmarks.bfcl.calls import Call

LOOK = Call("ls", {})
"""The look: the current directory's listing (GorillaFileSystem's ``ls``)."""
_NOT_CHILD = {"..", ".", "/", "~"}


def with_looks(calls: list[Call], max_calls: int) -> list[Call]:
    """``calls`` with a look before each ``cd`` into a child folder, as long as the attempt
    stays within ``max_calls`` (the looks nearest the start first)."""
    room = max_calls - len(calls)
    out: list[Call] = []
    for call in calls:
        folder = call.args.get("folder") if call.tool == "cd" else None
        child = isinstance(folder, str) and folder not in _NOT_CHILD
        if child and room > 0 and (not out or out[-1] != LOOK):
            out.append(LOOK)
            room -= 1
        out.append(call)
    return out
