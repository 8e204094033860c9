"""Two labs with a manager each, an admin and a researcher, all reading English."""

import pytest

from tests.factories import (
    create_admin,
    create_category,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
)


@pytest.fixture
def lab():
    return create_lab(code="NEM", name_en="New-Energy Materials Lab")


@pytest.fixture
def other_lab():
    return create_lab(code="FOOD", name_en="Green Food Lab")


@pytest.fixture
def category():
    return create_category(key="diffraction", name_en="Diffraction")


@pytest.fixture
def instrument(lab, category):
    return create_instrument(lab=lab, category=category, code="NEM-001",
                             name_en="X-ray diffractometer", name_zh="X射线衍射仪")


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="Manager Wang", locale="en")


@pytest.fixture
def other_manager(other_lab):
    return create_manager(other_lab, name="Manager Li", locale="en")


@pytest.fixture
def admin():
    return create_admin(name="Admin Zhang", locale="en")


@pytest.fixture
def researcher():
    organization = create_organization(name="Henan Battery Co.")
    return create_user(name="Researcher Zhao", organization=organization, locale="en")


def text(response) -> str:
    return response.get_data(as_text=True)


def shown_again(response, page: str) -> str:
    """The page a refused form was sent back to by Post/Redirect/Get (the POST answered with
    ``follow_redirects``), as text."""
    assert [r.status_code for r in response.history] == [303]
    assert response.request.path == page and response.status_code == 200
    return text(response)
