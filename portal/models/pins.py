"""Pinned tools: the services a member keeps at the top of their home page, in their order."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalog import Service

# Enough for every tool a person opens daily; a bound so that a member's pins stay a short
# list that each home page view reads whole. Pins of services no longer in the catalog do
# not count: the member did not choose to lose them, and they grow only as the catalog
# deletes services someone pinned.
PINS_PER_MEMBER = 50
# A member's pinned slugs are cached (every category page marks their pin buttons) and
# written anew by each change through PinManager; a safety net for writes that bypass it
# (SQL from a shell, a restored dump): pages follow them within this many seconds.
PINNED_SLUGS_SECONDS = 60 * 60


def service_in_catalog() -> models.Exists:
    """Whether a pin's service is in the catalog, for a filter, an annotation or an
    aggregate over pins."""
    return models.Exists(Service.objects.filter(slug=models.OuterRef("service_slug")))


class PinManager(models.Manager):
    """A member's pins, changed only through these methods: each is safe to run twice."""

    def of(self, user) -> models.QuerySet:
        return self.filter(user=user).order_by("position", "pk")

    def slugs_of(self, user, *, read: dict | None = None) -> list[str]:
        """The slugs of the services `user` pinned, in their order: from the cache (or from
        `read`, what the caller read from it with `cache.get_many`, `slugs_key` among the
        keys), or in one query."""
        key = self.slugs_key(user)
        if read is not None and key in read:
            return read[key]
        return cache.get_or_set(key, lambda: self._stored_slugs(user), PINNED_SLUGS_SECONDS)

    def slugs_key(self, user) -> str:
        """Where the cache keeps `user`'s pinned slugs."""
        return f"portal:pinned-slugs:{user.pk}"

    def _stored_slugs(self, user) -> list[str]:
        return list(self.of(user).values_list("service_slug", flat=True))

    def _changed(self, user) -> None:
        """Forget `user`'s cached slugs now, and write them anew once the change commits.

        Now keeps this process's next reads right inside the writer's transaction (and in
        tests, whose transactions never commit), and a rolled-back change leaves nothing
        behind. The write after the commit is the one that counts: a reader that loaded
        the slugs before the commit may store them after it, but only with `add` (in
        `slugs_of`), which never replaces the committed ones."""
        key = self.slugs_key(user)
        cache.delete(key)
        transaction.on_commit(
            lambda: cache.set(key, self._stored_slugs(user), PINNED_SLUGS_SECONDS)
        )

    def pin(self, *, user, slug: str) -> bool:
        """Pin service `slug` for `user`, last in their order; False when it is pinned
        already (its place is kept). ValidationError, changing nothing, when they have
        pinned PINS_PER_MEMBER services that are in the catalog."""
        with transaction.atomic():
            pins = self.filter(user=user).aggregate(
                count=models.Count("pk", filter=models.Q(service_in_catalog())),
                last=models.Max("position"),
                this=models.Count("pk", filter=models.Q(service_slug=slug)),
            )
            if pins["this"]:
                return False
            if pins["count"] >= PINS_PER_MEMBER:
                raise ValidationError(
                    _("You can pin at most %(limit)d services: unpin one first."),
                    code="too_many_pins",
                    params={"limit": PINS_PER_MEMBER},
                )
            last = pins["last"]
            try:
                # A savepoint: the same pin sent twice at once loses the race on the
                # unique constraint, and that is the "pinned already" answer.
                with transaction.atomic():
                    self.create(
                        user=user, service_slug=slug, position=0 if last is None else last + 1
                    )
            except IntegrityError:
                return False
            self._changed(user)
        return True

    def unpin(self, *, user, slug: str) -> bool:
        """Unpin service `slug` for `user`; False when it was not pinned."""
        deleted, _rows = self.filter(user=user, service_slug=slug).delete()
        if deleted:
            self._changed(user)
        return bool(deleted)

    def unpin_gone(self, *, user) -> int:
        """Unpin every service `user` pinned that is no longer in the catalog; how many."""
        deleted, _rows = self.filter(user=user).exclude(service_in_catalog()).delete()
        if deleted:
            self._changed(user)
        return deleted

    def move(self, *, user, slug: str, before: str = "", after: str = "") -> bool:
        """Move `user`'s pin of `slug` to just before the pin `before`, or just after the
        pin `after` (a move up or down past the pin shown next to it). False, changing
        nothing, when it is there already or either is not pinned. Asked twice, the
        second finds it in place."""
        other = before or after
        if not other or other == slug:
            return False
        with transaction.atomic():
            # Locked (on PostgreSQL) so that two moves at once renumber one order.
            pins = list(self.of(user).select_for_update())
            slugs = [pin.service_slug for pin in pins]
            if slug not in slugs or other not in slugs:
                return False
            order = [s for s in slugs if s != slug]
            order.insert(order.index(other) + (1 if after else 0), slug)
            if order == slugs:
                return False
            by_slug = {pin.service_slug: pin for pin in pins}
            moved = []
            for position, each in enumerate(order):
                pin = by_slug[each]
                if pin.position != position:
                    pin.position = position
                    moved.append(pin)
            self.bulk_update(moved, ["position"])
            self._changed(user)
        return True


class Pin(models.Model):
    """A service a member pinned to their home page, at a place in their order.

    Kept by the service's slug, not a foreign key: a catalog import that deletes a service
    and adds it again (or an admin who recreates it) keeps everyone's pins. A pin whose
    service is gone, or that its member may no longer see, is not shown, and shows again
    when the service comes back. Slugs are unique across the catalog, so a service moved
    to another category stays pinned. The home page names the pins of services gone from
    the catalog, which do not count against PINS_PER_MEMBER, and offers to remove them.

    Not audited: it is a member's own preference, granting nothing, which only its member
    changes (staff see it, read-only, in the Admin UI); `pinned_at` says when it was made.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="pins",
        verbose_name=_("member"),
    )
    service_slug = models.SlugField(_("service slug"), max_length=64)
    position = models.PositiveIntegerField(_("position"), default=0)
    pinned_at = models.DateTimeField(_("pinned at"), default=timezone.now)

    objects = PinManager()

    class Meta:
        ordering = ["user", "position", "pk"]
        verbose_name = _("pin")
        verbose_name_plural = _("pins")
        constraints = [
            models.UniqueConstraint(fields=["user", "service_slug"], name="pin_unique_service")
        ]

    def __str__(self) -> str:
        return f"{self.user} pinned {self.service_slug}"
