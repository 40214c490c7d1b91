"""The staff console: server-rendered pages under ``/console`` for coordinators, researchers and admins.

One folder for the whole console rather than a ``console`` module in each domain: the pages share one
layout, one login session, one message catalogue and one set of security headers, and the domains stay
free of HTML. The console holds no rules of its own: every figure and every action goes through the
owning domain's services, exactly as the JSON API does, and each page checks the roles of the API route
it mirrors. It sits above every domain (it imports them; none imports it).
"""
