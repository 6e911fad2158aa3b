"""The supervisors' web console at /admin/ (issue 13): staff log in with a password and see and act on tickets."""
