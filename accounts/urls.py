from django.urls import path

from accounts import views

urlpatterns = [
    path("account/switch/", views.account_switch, name="account_switch"),
    path("settings/members/", views.members, name="members"),
    path("settings/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("settings/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("outbox/", views.outbox, name="outbox"),
]
urlpatterns += [path("settings/", views.settings_index, name="settings")]
