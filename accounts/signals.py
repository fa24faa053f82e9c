"""What accounts tells other rooms. Accounts never calls into them; they listen."""

from django.dispatch import Signal

# A membership transition moved members: `action` (approve, reject, suspend, reinstate),
# `ids` (the members it moved), `by` (who, or None) and `ip`. Sent inside the change's
# transaction, so that what receivers write because of it (a workspace requested or
# suspended, the work it queues in the outbox) commits with the change or not at all.
membership_changed = Signal()
