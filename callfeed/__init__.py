"""The department call feed: live cards of the calls waiting at a department, and the call bin."""
