"""Catalogue search as a lab's front desk uses it: what people type, and what must come first."""

import csv
import datetime as dt

import pytest

from labbook.accounts.models import PriceTier, Role
from labbook.catalogue import listing, loader, search
from labbook.catalogue import services as services_module
from labbook.catalogue.models import Instrument, TestingService
from labbook.catalogue.services import (
    CatalogueFilter,
    search_instruments,
    search_services,
    update_instrument,
)
from labbook.core.engine import write_transaction
from labbook.extensions import db
from tests.factories import create_instrument, create_user
from tests.statements import Sent

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


def instruments(q: str, **filters) -> list[Instrument]:
    return search_instruments(db.session, CatalogueFilter(q=q, **filters), per_page=500).items


def services(q: str, **filters) -> list[TestingService]:
    return search_services(db.session, CatalogueFilter(q=q, **filters), per_page=500).items


def codes(rows) -> list[str]:
    return [row.code for row in rows]


# -- what people type -------------------------------------------------------------------------


def test_tem_is_the_transmission_electron_microscope_and_never_part_of_a_word(catalogue):
    found = instruments("TEM")
    assert found[0].name_en == "Field-Emission Transmission Electron Microscope"
    assert not [i for i in found if "System" in i.name_en or "Temperature" in i.name_en]
    assert instruments("tem") == found


@pytest.mark.parametrize("q", ["液质", "液质联用", "LC-MS", "lc ms"])
def test_informal_names_of_lc_ms_find_the_lc_ms_first(catalogue, q):
    found = instruments(q)
    assert {i.category.key for i in found[:3]} == {"lc-ms"}


def test_chinese_maker_names_find_the_makers_instruments(catalogue):
    found = instruments("岛津")
    assert len(found) == 7 and {i.manufacturer for i in found} == {"Shimadzu"}
    assert {i.manufacturer for i in instruments("赛默飞")} >= {"Thermo Fisher Scientific"}
    assert {i.manufacturer for i in instruments("蔡司")} == {"ZEISS", "GOM (ZEISS)"}
    assert codes(instruments("daojin")) == codes(found)  # the maker's name in pinyin


@pytest.mark.parametrize("q", ["GB5009.5", "gb 5009.5", "ＧＢ５００９．５", "GB 5009.5-2016",
                               "gb5009.5"])
def test_a_standard_number_is_found_however_it_is_written(catalogue, q):
    found = services(q)
    assert found and {s.standard for s in found} == {"GB 5009.5"}


@pytest.mark.parametrize("q", ["gb/t228.1", "GB/T 228.1", "GBT228.1", "gb／t 228.1"])
def test_gb_t_228_1(catalogue, q):
    found = services(q)
    assert found[0].standard.startswith("GB/T 228.1")
    assert {s.code for s in found[:2]} == {"MFG-S001", "MFG-S002"}


def test_a_number_does_not_find_a_longer_number(catalogue):
    assert services("GB 5009.2") == []
    assert {s.standard for s in services("GB 5009.22")} == {"GB 5009.22"}
    assert {s.standard for s in services("GB 5009")} >= {"GB 5009.5", "GB 5009.22"}


@pytest.mark.parametrize("q", ["saomiaodianjing", "smdj", "扫描电镜", "SEM",
                               "scanning electron microscope"])
def test_the_scanning_electron_microscopes_come_first(catalogue, q):
    found = instruments(q)
    assert all("Scanning Electron Microscope" in i.name_en for i in found[:4])


def test_english_queries(catalogue):
    assert instruments("x-ray diffractometer")[0].category.key == "xrd"
    assert instruments("Shimadzu") == instruments("岛津")
    assert services("tensile test")[0].category.key == "mechanical-properties"
    assert services("protein")[0].standard == "GB 5009.5"


def test_codes_are_found_in_any_spelling(catalogue):
    assert codes(instruments("nem-009"))[0] == "NEM-009"
    assert codes(instruments("NEM 009"))[0] == "NEM-009"
    assert codes(services("food-s001"))[0] == "FOOD-S001"


def test_whole_words_come_before_prefixes_then_names_then_categories(catalogue):
    found = instruments("XRD")
    # the diffractometers by name, then the scattering instrument of the same category
    assert codes(found[:4]) == ["NEM-001", "NEM-002", "NEM-003", "NEM-004"]


def test_ties_go_by_lab_and_code(catalogue):
    ranked = search.current_index(db.session).instruments.rank("电镜")
    best = [item for item, score in ranked if score == ranked[0][1]]
    assert [(item.lab_code, item.code) for item in best] == [
        ("MFG", "MFG-034"), ("NEM", "NEM-005"), ("NEM", "NEM-006"), ("NEM", "NEM-007"),
        ("NEM", "NEM-009")]
    assert [score for _item, score in ranked] == sorted(score for _item, score in ranked)


def test_filters_apply_to_the_ranked_results(catalogue):
    assert codes(instruments("电镜", lab="mfg")) == ["MFG-034"]
    assert codes(instruments("XRD", category="xrd", lab="NEM"))[:3] == ["NEM-001", "NEM-002",
                                                                        "NEM-003"]
    assert instruments("XRD", status="retired") == []


# -- the data files ---------------------------------------------------------------------------


def _catalogue_rows(name: str) -> list[dict[str, str]]:
    with (search.DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_maker_in_the_catalogue_has_its_chinese_and_english_name():
    makers = search.makers()
    for manufacturer in {row["manufacturer"] for row in _catalogue_rows("instruments.csv")}:
        maker = makers[search.fold(manufacturer)]
        assert search.has_cjk(maker.name_zh), manufacturer
        assert maker.name_en and not search.has_cjk(maker.name_en), manufacturer


def test_every_makers_chinese_name_finds_its_instruments(catalogue):
    by_maker: dict[str, set[str]] = {}
    for row in _catalogue_rows("instruments.csv"):
        by_maker.setdefault(row["manufacturer"], set()).add(row["code"])
    index = search.current_index(db.session).instruments
    for manufacturer, expected in by_maker.items():
        name_zh = search.makers()[search.fold(manufacturer)].name_zh
        found = {item.code for item, _score in index.rank(name_zh)}
        assert expected <= found, name_zh


def test_every_alias_finds_at_least_one_catalogue_item(catalogue):
    index = search.current_index(db.session)
    for alias in search.aliases():
        for name in alias.adds:
            assert index.instruments.rank(name) or index.services.rank(name), name


def test_every_aliased_text_is_in_the_catalogue():
    texts = " ".join(search.fold(value) for name in ("instruments.csv", "services.csv",
                                                     "categories.csv")
                     for row in _catalogue_rows(name)
                     for key, value in row.items() if key.startswith("name"))
    assert [alias.contains for alias in search.aliases() if alias.contains not in texts] == []


def test_normalisation():
    assert search.compact("ＧＢ／Ｔ ２２８．１") == "gbt228.1"
    assert search.compact("GB 5009.5-2016") == "gb5009.5"
    assert search.compact("NEM-S001.") == "nems001"
    assert search.clean("XRD\t\x07 衍射\u200b") == "XRD 衍射"
    assert search.pinyin_forms("扫描电镜") == ("saomiaodianjing", "smdj")


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["", "   ", "\x01\x02", "'; DROP TABLE instruments; --", ".*",
                               "(", "[a-z]+", "%", "_", "\\", "a" * 200, "\u202e\ufeff",
                               "?", "*", "电" * 200, "x" * 20 + " " * 50 + "y"])
def test_odd_searches_get_an_answer(client, catalogue, q):
    for path in ("/instruments", "/services", "/api/v1/instruments", "/api/v1/services"):
        response = client.get(path, query_string={"q": q})
        assert response.status_code == 200, (path, q)


def test_a_search_of_5000_characters_is_refused_with_a_message(client, catalogue):
    page = client.get("/instruments", query_string={"q": "x" * 5000})
    assert page.status_code == 422
    assert "200" in page.get_data(as_text=True)
    api = client.get("/api/v1/services", query_string={"q": "x" * 5000})
    assert api.status_code == 422 and api.json["code"] == "invalid_parameter"


def test_an_empty_search_lists_everything_in_lab_and_code_order(catalogue):
    found = instruments("")
    assert len(found) == 163 and codes(found) == sorted(codes(found))


# -- the index is built once per catalogue change ----------------------------------------------


def test_the_index_is_kept_until_the_catalogue_changes():
    instrument = create_instrument(name_en="Powder Diffractometer")
    first = search.current_index(db.session)
    assert search.current_index(db.session) is first
    instrument.name_en = "Rotating Anode Diffractometer"
    db.session.commit()
    assert search.current_index(db.session) is not first
    assert codes(instruments("rotating")) == [instrument.code]
    assert instruments("powder") == []


def test_an_edit_through_the_catalogue_service_renews_the_index(catalogue):
    instrument = instruments("NEM-009")[0]
    raw = {field: getattr(instrument, field) for field in services_module.INSTRUMENT_TEXTS}
    raw.update({field: getattr(instrument, field) for field in loader.RULE_RANGES})
    raw.update({field: getattr(instrument, field) for field in loader.RULE_FLAGS})
    raw.update(category_id=instrument.category_id, purchase_year=instrument.purchase_year,
               value_cny=instrument.value_cny, name_zh="球差校正透射电子显微镜")
    with write_transaction(db.session):
        update_instrument(db.session, create_user(role=Role.ADMIN), instrument, raw, now=NOW)
    assert codes(instruments("球差校正"))[0] == "NEM-009"


def test_another_process_sees_the_change_through_the_database_token():
    create_instrument(name_en="Rheometer")
    token = search.catalogue_token(db.session)
    assert token
    search._cached.update(token=None, index=None)  # a process that never searched
    assert codes(instruments("rheometer"))
    create_instrument(name_en="Second Rheometer")
    assert search.catalogue_token(db.session) != token
    assert len(instruments("rheometer")) == 2


def test_a_rolled_back_change_keeps_the_token():
    create_instrument()
    token = search.catalogue_token(db.session)
    db.session.add(Instrument(code="X-1", lab_id=1, category_id=1, name_zh="x", name_en="x"))
    db.session.flush()
    db.session.rollback()
    assert search.catalogue_token(db.session) == token


@pytest.mark.parametrize(("q", "category"), [("农残", "pesticide-residue"),
                                             ("兽残", "veterinary-drug"),
                                             ("大肠杆菌", "microbiology"),
                                             ("塑化剂", "organic-contaminants"),
                                             ("pesticide residues", "pesticide-residue")])
def test_what_a_food_lab_is_asked_for(catalogue, q, category):
    assert services(q)[0].category.key == category


def test_english_word_forms(catalogue):
    assert instruments("x-ray diffraction")[0].category.key == "xrd"
    assert "Microscope" in instruments("electron microscopy")[0].name_en
    assert instruments("hardness testers")[0].category.key == "hardness"
    assert instruments("rheometers")[0].name_en == "Rotational Rheometer"


def test_two_chinese_words_without_a_space(catalogue):
    found = instruments("岛津液相")
    assert codes(found) == codes(instruments("岛津 液相")) == ["FOOD-004", "FOOD-005"]
    assert codes(instruments("安捷伦液质")) == ["FOOD-007"]


@pytest.mark.parametrize(("search_page", "options", "statements"), [
    (search_instruments, {}, 3), (search_services, {}, 2),
    (search_services, {"with_instruments": True}, 3)])
def test_a_page_of_search_results_comes_with_its_labs_and_categories_joined(
        catalogue, search_page, options, statements):
    """The token that says whether the index is current, the page's rows with their labs and
    categories joined, and the rate cards, or the services' instruments where asked for (the
    API shows them, the pages do not): on PostgreSQL each statement is a round trip, and every
    visitor's search makes them."""
    search.current_index(db.session)  # built once for the catalogue, not per search
    db.session.expire_all()
    with Sent() as sent:
        page = search_page(db.session, CatalogueFilter(q="液相"), **options)
        names = [(row.lab.code, row.category.key) for row in page.items]
    assert names and len(sent) == statements, "\n".join(s[:120] for s in sent)


def test_the_suggestions_as_one_types_come_with_their_labs_in_four_statements(catalogue):
    """The index's token, the instruments with their labs joined and their rate cards (for
    the price), the services with their labs joined."""
    search.current_index(db.session)
    db.session.expire_all()
    with Sent() as sent:
        found = listing.suggestions(db.session, "液相", PriceTier.EXTERNAL, NOW.date())
        labs = {suggestion.row.lab.code for suggestion in found}
    assert {suggestion.kind for suggestion in found} == {"instrument", "service"}
    assert labs and len(sent) == 4, "\n".join(s[:120] for s in sent)
