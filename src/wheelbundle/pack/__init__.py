"""The only writers of archives: a bundle (write), a delta (delta), one for several servers
(merge)."""
