from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Category, ChecklistItem, ConfigNote, DataStore, FocusArea, Service


class ServiceInline(admin.TabularInline):
    model = Service
    fields = ["position", "name", "slug", "role", "hidden", "location", "access", "summary"]
    prepopulated_fields = {"slug": ["name"]}
    extra = 0
    show_change_link = True


class DataStoreInline(admin.TabularInline):
    model = DataStore
    fields = ["position", "name", "slug", "kind", "description", "remark"]
    prepopulated_fields = {"slug": ["name"]}
    extra = 0
    show_change_link = True


class FocusAreaInline(admin.TabularInline):
    model = FocusArea
    fields = ["position", "text"]
    extra = 0


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    fields = ["position", "text"]
    extra = 0


class ConfigNoteInline(admin.TabularInline):
    model = ConfigNote
    fields = ["position", "text", "is_access_touchpoint"]
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "slug",
        "position",
        "visible_count",
        "supporting_count",
        "data_store_count",
    ]
    list_editable = ["position"]
    search_fields = ["slug", "name", "title", "summary", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [
        ServiceInline,
        DataStoreInline,
        FocusAreaInline,
        ChecklistItemInline,
        ConfigNoteInline,
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).for_home()

    @admin.display(description=_("Visible Apps"), ordering="visible_count")
    def visible_count(self, category):
        return category.visible_count

    @admin.display(description=_("Supporting"), ordering="supporting_count")
    def supporting_count(self, category):
        return category.supporting_count

    @admin.display(description=_("Data Stores"), ordering="data_store_count")
    def data_store_count(self, category):
        return category.data_store_count


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "category", "role", "hidden", "location", "access", "position"]
    list_filter = ["category", "role", "hidden", "access"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "summary", "location"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["talks_to"]
    ordering = ["category__position", "position"]


@admin.register(DataStore)
class DataStoreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "category", "kind", "position"]
    list_filter = ["category", "kind"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "description", "remark"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["used_by"]
    ordering = ["category__position", "position"]


class CategoryItemAdmin(admin.ModelAdmin):
    list_display = ["text", "category", "position"]
    list_filter = ["category"]
    list_select_related = ["category"]
    search_fields = ["text"]
    ordering = ["category__position", "position"]


admin.site.register(FocusArea, CategoryItemAdmin)
admin.site.register(ChecklistItem, CategoryItemAdmin)


@admin.register(ConfigNote)
class ConfigNoteAdmin(CategoryItemAdmin):
    list_display = ["text", "category", "position", "is_access_touchpoint"]
    list_filter = ["category", "is_access_touchpoint"]
