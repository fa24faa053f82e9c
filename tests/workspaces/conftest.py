from tests.hub import hub  # noqa: F401  (a real JupyterHub, one per test module)
