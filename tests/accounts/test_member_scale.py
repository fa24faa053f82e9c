"""Members by the thousand: the pending queue and its search in a fixed number of queries
(indexed on PostgreSQL), and approving or rejecting everyone a filter matches ("select all
N matching") without posting a field per member."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.admin import PendingMemberAdmin, UserAdmin
from accounts.models import User
from aixops.models import OutboxTask
from audit.models import AuditEvent
from tests.factories import client_for

QUEUE = "/admin/accounts/pendingmember/"
ENGLISH = {"accept-language": "en"}


def make_pending(prefix: str, count: int) -> list[int]:
    """`count` pending members named `<prefix><n>`, with e-mails and names to search."""
    User.objects.bulk_create(
        User(
            username=f"{prefix}{n}",
            email=f"{prefix}{n}@example.com",
            first_name="Jiwoo" if n % 2 else "Minseo",
            last_name="Kim",
        )
        for n in range(count)
    )
    return list(User.objects.filter(username__startswith=prefix).values_list("pk", flat=True))


# The queue's page as a staff member who is not a superuser: the signed-in user, their own
# and their groups' permissions, the groups of the "groups" filter, ONE count of the
# matching members (not a second for "of N in all"), the page of members, and their groups.
QUEUE_PAGE_QUERIES = 7


def counts(captured) -> int:
    return sum(1 for query in captured if query["sql"].startswith("SELECT COUNT("))


@pytest.mark.parametrize("members", [3, 150])
def test_pending_queue_page_costs_the_same_queries_whatever_its_length(
    sam, members, django_assert_num_queries
):
    Group.objects.create(name="/team").user_set.add(*make_pending("waiting-", members))
    client = client_for(sam)
    with django_assert_num_queries(QUEUE_PAGE_QUERIES) as queries:
        page = client.get(QUEUE, headers=ENGLISH).content.decode()
    assert counts(queries.captured_queries) == 1
    assert page.count('name="_selected_action"') == min(members, 100)  # a page of 100
    assert f"{members} pending members" in page
    assert page.count("<td class=\"field-groups_list\">/team</td>") == min(members, 100)


def test_queue_lists_the_longest_waiting_first(sam):
    make_pending("waiting-", 3)
    User.objects.filter(username="waiting-2").update(date_joined="2020-01-01T00:00:00Z")
    page = client_for(sam).get(QUEUE).content.decode()
    assert page.index("waiting-2") < page.index("waiting-0") < page.index("waiting-1")


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("waiting-1", 61),  # waiting-1, -10 … -19, -100 … -149: a part of the username
        ("JIWOO", 75),  # first names, whatever the case
        ("ting-7@example", 1),  # a part of the e-mail
        ("minseo kim", 75),  # every word somewhere: first and last name
        ("nobody", 0),
    ],
)
def test_search_in_the_queue_costs_the_same_queries(
    sam, search, found, django_assert_num_queries
):
    make_pending("waiting-", 150)
    client = client_for(sam)
    # As the page above: the count and the page are of the members the search matches; an
    # empty page has no members' groups to fetch.
    with django_assert_num_queries(QUEUE_PAGE_QUERIES - (found == 0)) as queries:
        page = client.get(QUEUE, {"q": search}, headers=ENGLISH).content.decode()
    assert counts(queries.captured_queries) == 1
    assert re.search(rf"\b{found} results?\b", page)
    assert page.count('name="_selected_action"') == found


@pytest.mark.parametrize("admin_class", [UserAdmin, PendingMemberAdmin])
def test_search_is_served_by_indexes_on_postgresql(db, admin_class):
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's (CI=true bin/test runs this there)")
    make_pending("waiting-", 10)
    model_admin = admin_class(User, None)
    found, _ = model_admin.get_search_results(None, User.objects.all(), "waiting-7")
    with transaction.atomic(), connection.cursor() as cursor:
        # The tables are tiny, so the planner would rightly read them whole; forbidding
        # that shows whether an index can answer the query Django writes for the search.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = found.order_by().explain()  # as the count asks it
    assert "Seq Scan" not in plan
    for field in model_admin.search_fields:
        assert f"accounts_user_{field}_trgm" in plan


def all_matching(action: str, search: str, **extra) -> tuple[str, dict]:
    """The queue's changelist form with "select all N matching" for a search: the URL it
    posts to (the search stays in it) and its fields, with one box ticked as the page
    has it."""
    one = User.objects.filter(username__startswith=search).values_list("pk", flat=True)[:1]
    fields = {"action": action, "select_across": "1", "_selected_action": list(one), **extra}
    return f"{QUEUE}?q={search}", fields


def statements(captured) -> list[str]:
    """The queries a request made, each run of batches of one bulk INSERT counted once:
    SQLite takes so few parameters in one statement that Django splits a long bulk INSERT
    into batches of a few dozen rows there; PostgreSQL takes it whole."""
    made: list[str] = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.startswith("INSERT INTO "):
            sql = sql.split(" (", 1)[0]
            if made and made[-1] == sql:
                continue
        made.append(sql)
    return made


def test_approving_all_a_search_matches_moves_only_them_in_queries_independent_of_n(sam):
    few = make_pending("few-", 12)
    many = make_pending("many-", 1200)
    others = make_pending("other-", 30)
    client = client_for(sam)
    captured = {}
    for prefix in ("few-", "many-"):
        with CaptureQueriesContext(connection) as captured[prefix]:
            response = client.post(*all_matching("approve", prefix, index="0"))
        assert response.status_code == 302
    assert len(statements(captured["few-"])) == len(statements(captured["many-"]))

    approved = User.objects.filter(membership="approved", pk__in=few + many + others)
    assert sorted(approved.values_list("pk", flat=True)) == sorted(few + many)
    events = AuditEvent.objects.filter(action="approve")
    assert events.count() == 1212
    assert set(events.values_list("actor", flat=True)) == {sam.pk}
    notices = OutboxTask.objects.filter(task="accounts.tasks.notify_members")
    assert sorted(len(notice.args[1]) for notice in notices) == [12, 1200]


def test_rejecting_all_a_search_matches_confirms_with_one_field_not_one_per_member(sam):
    many = make_pending("many-", 1200)
    others = make_pending("other-", 30)
    client = client_for(sam)
    url, fields = all_matching("reject", "many-")

    page = client.post(url, fields, headers=ENGLISH).content.decode()
    assert "Reject these 1200 members:" in page
    assert page.count("<li>many-") == 100
    assert "and 1100 more" in page
    korean = client.post(url, fields, headers={"accept-language": "ko"}).content.decode()
    assert "그 외 1100건" in korean
    # What the page posts back: the action, "select all", one ticked box; not 1,200 boxes,
    # which Django refuses past DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000).
    assert page.count('name="_selected_action"') == 1
    assert 'name="select_across" value="1"' in page

    done = client.post(url, {**fields, "apply": "1", "reason": "not on the team"})
    assert done.status_code == 302
    rejected = User.objects.filter(membership="rejected").values_list("pk", flat=True)
    assert sorted(rejected) == sorted(many)
    assert User.objects.filter(pk__in=others, membership="pending").count() == 30
    assert AuditEvent.objects.filter(action="reject", reason="not on the team").count() == 1200


def test_the_confirmation_page_names_the_ticked_members_and_posts_them_back(sam, carol):
    make_pending("many-", 3)
    ticked = list(User.objects.filter(username__in=["many-0", "many-2"]).order_by("pk"))
    page = client_for(sam).post(
        QUEUE, {"action": "reject", "_selected_action": [m.pk for m in ticked]}
    )
    page = page.content.decode()
    assert "<li>many-0 &lt;many-0@example.com&gt;</li>" in page
    assert "many-1" not in page and "carol" not in page
    for member in ticked:
        assert f'name="_selected_action" value="{member.pk}"' in page
    assert 'name="select_across"' not in page
