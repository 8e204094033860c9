from openapi_spec_validator import validate


def test_the_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_api_route_is_documented_with_its_methods(app, client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi_document":
            continue
        path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{") \
            .replace(">", "}")
        assert path in paths, f"{rule.rule} is not documented"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {rule.rule} is not documented"


def test_ids_beyond_any_database_id_are_404_not_500(client):
    from tests.factories import bearer, create_user

    headers = bearer(create_user())
    huge = "338312233534862112325632"
    for method, path in [("get", f"/api/v1/bookings/{huge}"), ("get", f"/api/v1/services/{huge}"),
                         ("post", f"/api/v1/bookings/{huge}/cancel"),
                         ("get", f"/instruments/{huge}")]:
        response = getattr(client, method)(path, headers=headers)
        assert response.status_code == 404, path


def _enums(node, path=""):
    """Every ``enum`` list in a JSON document, with where it stands."""
    if isinstance(node, dict):
        if "enum" in node:
            yield path, node["enum"]
        for key, value in node.items():
            yield from _enums(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _enums(value, f"{path}/{index}")


def test_every_enum_in_the_document_is_the_values_of_its_class(client):
    from labbook.accounts.models import PriceTier
    from labbook.billing.models import (
        BalanceEntryKind,
        BillingBasis,
        ChargeKind,
        InvoiceKind,
        InvoiceMedium,
        InvoiceState,
        PaymentMethod,
        StatementState,
    )
    from labbook.billing.vouchers import ELIGIBLE_KINDS
    from labbook.booking.models import BookingState, ChangeState, WaitlistState
    from labbook.catalogue.models import InstrumentStatus
    from labbook.enterprises.models import RegistrationState
    from labbook.faults.models import FaultKind, FaultState
    from labbook.faults.services import LOGGED_KINDS
    from labbook.holidays.models import DayKind, Festival
    from labbook.notify.models import Topic
    from labbook.orders.models import (
        Conclusion,
        Disposition,
        IntakeStatus,
        LineState,
        OrderState,
        Remains,
        ReportLanguage,
        ReportState,
    )
    from labbook.privacy.models import DeletionState
    from labbook.testing.models import ServiceRequestState
    from labbook.training.models import EnrolmentState, ExamResult, RequestState, SessionState

    classes = [BookingState, ServiceRequestState, StatementState, ChargeKind, PriceTier,
               BillingBasis, InstrumentStatus, DayKind, Festival, RequestState,
               SessionState, EnrolmentState, ExamResult, PaymentMethod,
               BalanceEntryKind, InvoiceKind, InvoiceMedium, InvoiceState, OrderState,
               LineState, IntakeStatus, Remains, ReportLanguage, Conclusion, ReportState,
               Disposition, FaultKind, FaultState, ChangeState, WaitlistState,
               RegistrationState, DeletionState, Topic]
    # Vocabularies of the API that no enum class holds.
    plain = [["daily", "weekly"], ["booking", "blackout"], ["active", "inactive"],
             [kind.value for kind in ELIGIBLE_KINDS], ["valid", "superseded", "withdrawn"],
             [kind.value for kind in LOGGED_KINDS], ["time", "testing"]]
    found = set()
    for path, values in _enums(client.get("/api/v1/openapi.json").json):
        named = [value for value in values if value is not None]
        matching = [cls for cls in classes if named == [member.value for member in cls]]
        assert matching or named in plain, f"{path}: {values} are not the values of an enum"
        found.update(matching)
    assert found == set(classes)
