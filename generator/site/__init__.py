"""The course site: lessons, their execution and cache, the pages, and the MkDocs build."""
