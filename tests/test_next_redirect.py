"""``?next=`` with a control character sends a signed-in visitor home, not to a 500.

Found by ``test_fuzz.test_next_redirect_is_always_same_site`` (``/login?next=/%0A`` while
signed in: Werkzeug refuses a newline in ``Location``)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("target", ["/\n", "/faq\r\n", "/x\x00", "/\x7f"])
def test_a_next_with_a_control_character_goes_home(client, auth, target):
    auth.login()
    res = client.get("/login", query_string={"next": target})
    assert res.status_code == 302 and res.headers["Location"] == "/"
    ok = client.get("/login", query_string={"next": "/faq/track-order"})
    assert ok.headers["Location"] == "/faq/track-order"
