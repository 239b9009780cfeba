"""The team gallery: search, stars, boards, soft delete with undo, zip downloads."""
