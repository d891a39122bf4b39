"""The release core: running validations, judging them, keeping their results."""
