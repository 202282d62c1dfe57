"""Pages. Each view reads through selectors (scoped to the user) and writes through services;
errors from services reach the page through `portal.web`."""
