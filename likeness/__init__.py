"""The likeness registry: people whose likeness is protected, their consent terms, their
face and voice templates, and matching media against them."""
