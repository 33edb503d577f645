"""The analyst console (`/console`): server-rendered pages over the same functions the JSON API
calls, behind a log-in with an analyst or admin key, a server-side session and CSRF tokens."""
