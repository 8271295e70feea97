"""Learning in weights: verified experience turned into training examples for the experts.

Each example is exactly a prompt the runtime sent for one role (the same renderers made it)
with the answer that role should have given: a plan, an action, a finish, a verdict. Examples
come from run records (the user's own succeeded runs, or a benchmark teacher's verified turns)
and are written as JSON lines per role, which the trainer (``local``) turns into one LoRA
adapter per task token and one for the steward. This package sits above ``agents`` (it reads
their records) and beside the orchestrator; nothing below imports it.
"""

from training.examples import Example, examples_from_record, initial_prompt
from training.files import ExampleSet, read_examples, write_examples
from training.runs import examples_from_store

__all__ = [
    "Example",
    "ExampleSet",
    "examples_from_record",
    "examples_from_store",
    "initial_prompt",
    "read_examples",
    "write_examples",
]
