"""Login: the ID-porten and staff OpenID clients, the app-facing authorize/token endpoints, sessions."""
