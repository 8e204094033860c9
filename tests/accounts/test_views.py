import pytest

from tests.factories import PASSWORD, create_user, reload


def sign_in(client, email, password=PASSWORD, next_url=""):
    return client.post("/login", data={"email": email, "password": password, "next": next_url})


def test_sign_in_and_out(client):
    user = create_user(name="陈晓明")
    response = sign_in(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "陈晓明" in client.get("/").get_data(as_text=True)

    client.post("/logout")
    assert "陈晓明" not in client.get("/").get_data(as_text=True)


def test_wrong_password_is_explained_without_saying_which_part(client):
    user = create_user()
    response = sign_in(client, user.email, "wrong-password-1")
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    page = client.get("/login").get_data(as_text=True)
    assert "邮箱或密码错误" in page


@pytest.mark.parametrize(("next_url", "expected"), [
    ("/instruments?lab=NEM", "/instruments?lab=NEM"),
    ("https://evil.example.com/", "/"),
    ("//evil.example.com/", "/"),
    ("/\\evil.example.com", "/"),
    ("javascript:alert(1)", "/"),
])
def test_only_local_next_urls_are_followed(client, next_url, expected):
    user = create_user()
    response = sign_in(client, user.email, next_url=next_url)
    assert response.headers["Location"] == expected


def test_forms_without_a_csrf_token_are_refused(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = create_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_language_switch_turns_the_page_english_and_back(client):
    assert "仪器" in client.get("/").get_data(as_text=True)
    client.post("/language", data={"locale": "en", "next": "/instruments"})
    page = client.get("/").get_data(as_text=True)
    assert "Instruments" in page and 'lang="en"' in page
    client.post("/language", data={"locale": "zh_CN", "next": "/"})
    assert 'lang="zh-CN"' in client.get("/").get_data(as_text=True)


def test_a_signed_in_users_language_choice_is_remembered(client):
    user = create_user(locale="zh_CN")
    sign_in(client, user.email)
    client.post("/language", data={"locale": "en"})
    assert reload(user).locale == "en"


@pytest.mark.parametrize(("browser", "saved", "welcome"), [
    ("en-US,en;q=0.9", "zh_CN", "欢迎，陈晓明。"),
    ("zh-CN,zh;q=0.9", "en", "Welcome, 陈晓明."),
], ids=["an English browser, a Chinese account", "a Chinese browser, an English account"])
def test_the_welcome_is_in_the_language_of_the_account_its_page_speaks(client, browser, saved,
                                                                          welcome):
    user = create_user(name="陈晓明", locale=saved)
    client.post("/login", data={"email": user.email, "password": PASSWORD},
                headers={"Accept-Language": browser})
    page = client.get("/", headers={"Accept-Language": browser}).get_data(as_text=True)
    assert welcome in page
