"""The application layer: the command service, dispatcher, reconciler and notifier."""
