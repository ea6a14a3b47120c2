"""The use cases. Functions take (session, actor, ...), flush, and never commit."""
