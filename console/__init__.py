"""The staff workspace: the clerks' dashboard of collections, receivables and their trends."""
