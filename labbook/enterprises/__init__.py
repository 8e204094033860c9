"""Enterprises that join by themselves: self-registration, organization admins, invitations and
requests to join an organization already registered."""
