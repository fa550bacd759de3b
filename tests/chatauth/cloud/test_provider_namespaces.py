"""A second issuer's users live in a namespace of their own unless an operator maps its rule onto Clerk's users."""

from __future__ import annotations

import pytest

from chatauth.caller import Workspace
from chatauth.cloud.tokens import verify
from chatauth.models import AuthRule
from tests.chatauth.cloud.test_provider_rules import call, provider_claims
from tests.support.keys import KeyPair
from threads import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreign_rule(provider_rule: AuthRule) -> AuthRule:
    provider_rule.shares_clerk_users = False
    provider_rule.save()
    return provider_rule


def test_a_second_issuer_cannot_read_a_clerk_users_org_threads(foreign_rule: AuthRule, signing_key: KeyPair) -> None:
    services.thread_create(workspace=Workspace("user_alice", "org_acme"), title="alice's acme thread")
    response = call(signing_key.sign(provider_claims(sub="user_alice", org_id="org_acme")))
    assert response.status_code == 200
    assert response.json()["threads"] == []


def test_the_second_issuers_workspace_is_namespaced_by_its_rule(foreign_rule: AuthRule, signing_key: KeyPair) -> None:
    response = call(signing_key.sign(provider_claims(sub="user_alice", org_id="org_acme")))
    token = response["Authorization"].partition(" ")[2]
    workspace = verify(token).workspace
    assert workspace == Workspace(f"p{foreign_rule.pk}~user_alice", f"p{foreign_rule.pk}~org_acme")
    thread = call(token).json()
    assert thread == {"threads": []}


def test_a_rule_mapped_onto_clerk_users_on_purpose_sees_their_workspace(
    provider_rule: AuthRule, signing_key: KeyPair
) -> None:
    services.thread_create(workspace=Workspace("user_alice", "org_acme"), title="alice's acme thread")
    response = call(signing_key.sign(provider_claims(sub="user_alice", org_id="org_acme")))
    assert [t["title"] for t in response.json()["threads"]] == ["alice's acme thread"]


def test_a_namespaced_id_too_long_for_the_column_is_refused(foreign_rule: AuthRule, signing_key: KeyPair) -> None:
    response = call(signing_key.sign(provider_claims(sub="u" * 128)))
    assert response.status_code == 401 and response.json()["error"] == "token-verification-failed"
