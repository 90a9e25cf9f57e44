"""Defence: what the crisis team says back. Reply drafts (:mod:`.replies`) and the reply
linter (:mod:`.lint`) that every draft and every edited reply passes through."""
from monitor.defence.lint import RULES, Flag, check_text, lint

__all__ = ["RULES", "Flag", "check_text", "lint"]
