"""Calling URLs that users supply (webhook endpoints; later, image URLs): parse and check them
strictly, resolve them once, and connect to exactly the address that was checked."""
