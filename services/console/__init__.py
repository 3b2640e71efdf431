"""The web console: the hub's exchanges for people signed in with OpenID Connect, in
French, through the same services (and the same contract checks) as the API."""
