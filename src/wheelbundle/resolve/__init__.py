"""Every road to pip's answer: the memo, the lock finders, pylock, the relay, pip's dry run."""
