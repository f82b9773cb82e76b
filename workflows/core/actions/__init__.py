"""Every action of a case as ``available`` / ``check`` / ``apply`` (DESIGN §3)."""
