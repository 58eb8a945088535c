"""The demo code location: an email-marketing SaaS (processor for its client workspaces) and a
census statistics release, both built only with the plugin's public API."""
