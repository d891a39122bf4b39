"""Renderings of a release for people and CI servers: table, plan, JUnit."""
