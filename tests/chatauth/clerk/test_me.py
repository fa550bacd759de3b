import pytest

pytestmark = pytest.mark.django_db


def test_me_returns_the_principal_of_a_personal_workspace(client_for):
    response = client_for("user_alice").get("/api/me")
    assert response.status_code == 200
    assert response.json()["user_id"] == "user_alice"
    assert response.json()["org_id"] is None
    assert response.json()["workspace"] == "user_alice"


def test_me_returns_the_organization_workspace(client_for):
    body = client_for("user_alice", org="org_acme", org_role="admin").get("/api/me").json()
    assert body["org_id"] == "org_acme"
    assert body["org_role"] == "org:admin"
    assert body["workspace"] == "org_acme:user_alice"


def test_me_signed_out_is_401_json_with_www_authenticate(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")
