"""Task-level evaluators: the shipped digits classifier and what `aigc eval` reports."""
