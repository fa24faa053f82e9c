"""Keycloak single sign-on: the provider's keys and token checks (provider), the sign-in
backend (backend), the views that start and end a sign-in (views), back-channel logout of
Keycloak sessions (sessions), the session re-check (middleware), and the URLs."""
