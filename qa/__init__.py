"""Stage 3b: answers, follow-ups, citation lookup."""
