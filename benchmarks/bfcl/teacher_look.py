"""How the BFCL teacher teaches looking before acting on state the user never named.

BFCL's ground truth knows the file system: ``cd(folder='documents')`` goes into a folder the
user's turn never mentions. An expert that learns those calls as they are learns to guess
folder names, and at run time it guesses wrong ones (seen in the experts experiment's first
round: ``cd(folder='my_dir')``). So before each ``cd`` into a folder the instruction does not
name, the teacher's staff agent first lists the directory (``ls``); the folder it then enters is
one the observation shows. A look changes no state, and BFCL's checker accepts extra calls that
change nothing, so the turn still verifies. Looks are added only while the attempt stays within
its call budget.
"""

from __future__ import annotations

from benchmarks.bfcl.calls import Call

LOOK = Call("ls", {})
"""The look: the current directory's listing (GorillaFileSystem's ``ls``)."""
_PARENT = {"..", ".", "/", "~"}


def with_looks(calls: list[Call], instruction: str, max_calls: int) -> list[Call]:
    """``calls`` with a look before each ``cd`` into a folder ``instruction`` does not name,
    as long as the attempt stays within ``max_calls`` (the looks nearest the start first)."""
    room = max_calls - len(calls)
    said = instruction.lower()
    out: list[Call] = []
    for call in calls:
        folder = call.args.get("folder") if call.tool == "cd" else None
        unnamed = isinstance(folder, str) and folder not in _PARENT and folder.lower() not in said
        if unnamed and room > 0 and (not out or out[-1] != LOOK):
            out.append(LOOK)
            room -= 1
        out.append(call)
    return out
