"""/favicon.ico, which browsers (and the admin's pages, which name no icon) ask for."""

from pathlib import Path

ICON = Path(__file__).resolve().parents[2] / "aixops" / "root" / "favicon.ico"


def test_the_favicon_is_served_to_anyone_without_a_query(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(response.streaming_content)
    assert body == ICON.read_bytes()
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in response["Cache-Control"]
