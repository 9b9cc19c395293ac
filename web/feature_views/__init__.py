"""Each module here is one capability's pages: `add_routes(router)`, optional `NAV`, texts via `add_texts`."""
