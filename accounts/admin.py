from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "oidc_subject"]
    search_fields = ["username", "email", "first_name", "last_name", "oidc_subject"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("Single sign-on"), {"fields": ["oidc_subject"]}),
    ]
