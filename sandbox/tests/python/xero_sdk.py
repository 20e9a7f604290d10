"""Xero's official Python SDK (xero-python), unchanged, against the simulator.

Usage: xero_sdk.py BASE_URL CLIENT_ID CLIENT_SECRET REDIRECT_URI

The SDK leaves the browser step and the code exchange to the web app (its samples use a web
framework's OAuth client), so this script does those two steps with the standard library, as a
web app would, then hands the token set to the SDK for everything else: a token refresh, the
connections, a contact, an invoice and a search by `where`. The SDK is pointed at the simulator
through what it exposes for that: the `base_url` argument of each API class, and the token URL
class attribute `TokenApi.refresh_token_url` (xero-python has no constructor option for it).
Prints a JSON summary for the Rust test to check.
"""

import base64
import datetime
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from xero_python.accounting import (
    AccountingApi,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.identity import IdentityApi

base, client_id, client_secret, redirect_uri = sys.argv[1:5]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# 1. The user's browser visits the authorize URL; Xero redirects back with a code.
scopes = "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings"
authorize = base + "/identity/connect/authorize?" + urllib.parse.urlencode(
    {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "state": "xyz-123",
    }
)
try:
    urllib.request.build_opener(NoRedirect).open(authorize)
    raise SystemExit("authorize did not redirect")
except urllib.error.HTTPError as e:
    assert e.code == 302, e.code
    callback = urllib.parse.urlparse(e.headers["Location"])
query = urllib.parse.parse_qs(callback.query)
assert query["state"] == ["xyz-123"], query

# 2. The web app exchanges the code for tokens.
basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
request = urllib.request.Request(
    base + "/connect/token",
    data=urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
        }
    ).encode(),
    headers={
        "Authorization": "Basic " + basic,
        "Content-Type": "application/x-www-form-urlencoded",
    },
)
token = json.load(urllib.request.urlopen(request))
token["scope"] = token["scope"].split()

# 3. From here on, the SDK.
TokenApi.refresh_token_url = base + "/connect/token"
api_client = ApiClient(
    Configuration(
        oauth2_token=OAuth2Token(client_id=client_id, client_secret=client_secret)
    ),
    pool_threads=1,
)
store = {}


@api_client.oauth2_token_getter
def get_token():
    return store.get("token")


@api_client.oauth2_token_saver
def save_token(new_token):
    store["token"] = new_token


api_client.set_oauth2_token(token)
first_refresh = token["refresh_token"]
refreshed = api_client.refresh_oauth2_token()
assert refreshed["refresh_token"] != first_refresh, "refresh token did not rotate"

connections = IdentityApi(api_client, base_url=base).get_connections()
tenant_id = connections[0].tenant_id

accounting = AccountingApi(api_client, base_url=base + "/api.xro/2.0")
contact = accounting.create_contacts(
    tenant_id,
    Contacts(contacts=[Contact(name="Ana Smith", email_address="ana@example.com")]),
).contacts[0]
found = accounting.get_contacts(tenant_id, where='EmailAddress=="ana@example.com"')
assert [c.contact_id for c in found.contacts] == [contact.contact_id]

invoice = Invoice(
    type="ACCREC",
    contact=Contact(contact_id=contact.contact_id),
    line_items=[
        LineItem(
            description="Trail Runner",
            quantity=2.0,
            unit_amount=89.0,
            account_code="200",
            tax_type="OUTPUT2",
        ),
        LineItem(description="Shipping", quantity=1.0, unit_amount=4.99, account_code="260"),
    ],
    date=datetime.date(2024, 7, 1),
    due_date=datetime.date(2024, 7, 31),
    reference="#1001",
    status="AUTHORISED",
    line_amount_types=LineAmountTypes.EXCLUSIVE,
)
created = accounting.create_invoices(
    tenant_id, Invoices(invoices=[invoice]), idempotency_key="order-1001"
).invoices[0]
again = accounting.create_invoices(
    tenant_id, Invoices(invoices=[invoice]), idempotency_key="order-1001"
).invoices[0]
by_reference = accounting.get_invoices(tenant_id, where='Reference=="#1001"').invoices

print(
    json.dumps(
        {
            "tenant_id": tenant_id,
            "refreshed_scope": refreshed["scope"],
            "contact_id": contact.contact_id,
            "invoice_id": created.invoice_id,
            "replayed_invoice_id": again.invoice_id,
            "invoice_number": created.invoice_number,
            "status": created.status,
            "date": created.date.isoformat(),
            "due_date": created.due_date.isoformat(),
            "line_amount_types": created.line_amount_types.value,
            "sub_total": float(created.sub_total),
            "total_tax": float(created.total_tax),
            "total": float(created.total),
            "line_tax": [float(line.tax_amount) for line in created.line_items],
            "found": [i.invoice_id for i in by_reference],
        }
    )
)
