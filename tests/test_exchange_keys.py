"""Exchange key rotation (issue 5): an agency holds a current key and previous ones with an
expiry; ``tambo exchange keys AGENCY --rotate`` makes a new key current, and messages signed
with the previous key are accepted until it expires."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.exchange import client, keys
from tambo.exchange.models import ExchangeLog
from tambo.exchange.registry import registry
from tambo.exchange.signing import sign_request

from . import test_exchange
from .test_exchange import HOLDER, PURPOSE, SERVICE, VERSION, body_for, send, service_url, unsigned

network, licence = test_exchange.network, test_exchange.licence


def rotate(agency: str, days: str = "7") -> str:
    out = io.StringIO()
    call_command("exchange", "keys", agency, "--rotate", "--overlap-days", days, stdout=out)
    return out.getvalue()


def test_rotation_makes_a_new_current_key_and_keeps_the_old_one_until_it_expires(network):
    before = registry().agency("MTC")
    moment = clock.now()
    with clock.frozen(moment):
        said = rotate("MTC", "2")
    after = registry().agency("MTC")
    assert after.key_id != before.key_id and after.key_id in said
    assert after.public_key != before.public_key and after.node == before.node
    (previous,) = after.previous_keys
    assert (previous.key_id, previous.public_key) == (before.key_id, before.public_key)
    assert previous.expires == moment + dt.timedelta(days=2)
    assert keys.key_path("MTC", after.key_id).exists()
    entry = AuditEntry.objects.get(action="exchange.key_rotated")
    assert entry.object_id == after.key_id and entry.data["previous"] == before.key_id
    # The public registry lists both keys.
    assert registry().by_key_id(before.key_id).code == "MTC"


def test_a_request_signed_with_the_previous_key_is_accepted_until_it_expires(network):
    body = body_for(HOLDER)
    old = unsigned(service_url(network), "old-key")
    sign_request(old, body, "MTC")  # signed before the rotation, sent after it
    late = unsigned(service_url(network), "old-key-late")
    sign_request(late, body, "MTC")
    old_key = registry().agency("MTC").key_id
    rotate("MTC", "1")
    assert f'keyid="{old_key}"' in old.headers["Signature-Input"]
    assert send(service_url(network), old.headers, body)[0] == 200

    # Past its expiry the previous key is refused with its own code.
    with clock.frozen(clock.now() + dt.timedelta(days=1, seconds=1)):
        status, answer = send(service_url(network), late.headers, body)
    assert (status, answer["error"]["code"]) == (401, "key_expired")
    served = ExchangeLog.objects.filter(direction="in").order_by("pk")
    assert [x.outcome for x in served] == ["ok", "key_expired"]


def test_after_rotation_both_sides_sign_with_the_new_keys(licence):
    rotate("MTC")
    rotate("MDSI")  # the provider's answers are signed with its new key too
    obtained = client.obtain("MTC", SERVICE, VERSION, HOLDER, PURPOSE)
    assert [x["number"] for x in obtained.data["licences"]] == [licence.number]
    sent = ExchangeLog.objects.get(direction="out", request_id=obtained.request_id)
    assert f'keyid="{registry().agency("MTC").key_id}"' in sent.request_headers["signature-input"]
    assert f'keyid="{registry().agency("MDSI").key_id}"' in sent.answer_headers["signature-input"]


def test_a_second_rotation_drops_expired_previous_keys(network):
    first = registry().agency("OSIPTEL").key_id
    moment = clock.now()
    with clock.frozen(moment):
        rotate("OSIPTEL", "1")
    second = registry().agency("OSIPTEL").key_id
    with clock.frozen(moment + dt.timedelta(days=2)):
        rotate("OSIPTEL", "1")
    entry = registry().agency("OSIPTEL")
    assert [k.key_id for k in entry.previous_keys] == [second]
    assert registry().by_key_id(first) is None


def test_rotating_an_agency_this_node_does_not_host_is_refused(network, settings):
    keys.key_path("OSIPTEL").unlink()
    with pytest.raises(CommandError, match="no key on this node"):
        rotate("OSIPTEL")
    with pytest.raises(CommandError, match="--node"):
        call_command("exchange", "keys", "MTC", stdout=io.StringIO())


def test_registering_the_node_again_after_a_rotation_keeps_the_keys(network):
    rotate("MTC")
    rotated = registry().agency("MTC")
    call_command("exchange", "keys", "MTC", "--node", "http://127.0.0.1:9", stdout=io.StringIO())
    moved = registry().agency("MTC")
    assert moved.node == "http://127.0.0.1:9"
    assert (moved.key_id, moved.public_key) == (rotated.key_id, rotated.public_key)
    assert moved.previous_keys == rotated.previous_keys
