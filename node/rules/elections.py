"""Rules for elections the API, the pages and the CLI all obey (docs/elections.md): what a
candidacy and a selection may say, checked before anything is stored or signed."""

from __future__ import annotations

from node.errors import BadInput
from protocol.counting import BALANCING, RON
from protocol.models import MAX_OPTIONS

MAX_NAME = 200  # protocol.models.Name
MAX_STATEMENT = 2000  # protocol.models.Text
MAX_CATEGORY = 64


def check_candidacy(name: str, statement: str, category: str) -> None:
    if not name.strip() or len(name.strip()) > MAX_NAME:
        raise BadInput(f"the name on the ballot is 1 to {MAX_NAME} characters", field="name")
    if name.strip() == RON:
        raise BadInput("that name is kept for re-open nominations", field="name")
    if len(statement) > MAX_STATEMENT:
        raise BadInput(f"the statement is at most {MAX_STATEMENT} characters", field="statement")
    if len(category) > MAX_CATEGORY:
        raise BadInput(f"the category is at most {MAX_CATEGORY} characters", field="category")


def check_selection(office: str, seats: int, method: str, nominations_close: int, voting_close: int,
                    balancing: str, text: str, now: int) -> None:  # fmt: skip
    if not office.strip() or len(office.strip()) > MAX_NAME:
        raise BadInput(f"the office is 1 to {MAX_NAME} characters", field="office")
    if not 1 <= seats < MAX_OPTIONS:
        raise BadInput(f"a selection fills 1 to {MAX_OPTIONS - 1} seats", field="seats")
    if method not in ("stv", "meek"):
        raise BadInput("a selection is counted by stv (Scottish STV) or meek", field="method")
    if balancing not in BALANCING:
        raise BadInput("the balancing rule is none or alternate", field="balancing")
    if nominations_close <= now:
        raise BadInput("nominations close in the future", field="nominations_close")
    if voting_close <= nominations_close:
        raise BadInput("voting closes after nominations close", field="voting_close")
    if len(text) > MAX_STATEMENT:
        raise BadInput(f"the description is at most {MAX_STATEMENT} characters", field="text")
