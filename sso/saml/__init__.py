"""SAML 2.0 connections: allauth's SAML provider, configured and checked by Gatehouse."""
