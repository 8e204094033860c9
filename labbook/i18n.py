"""Locale selection and helpers for bilingual catalogue fields."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import Flask, Response, current_app, g, has_request_context, request, session
from flask_babel import Domain, LazyString, get_babel, get_locale, get_translations
from flask_login import current_user
from werkzeug.datastructures import Headers

DEFAULT_LOCALE = "zh_CN"


def select_locale() -> str:
    """The language of the answer.

    An API request gets the language its ``Accept-Language`` asks for, when labbook speaks it;
    else the token owner's language. A page gets the signed-in user's saved language, else the
    one chosen with the switch (kept in the session), else the one the browser's
    ``Accept-Language`` prefers among those labbook speaks: a visitor whose browser asks for
    English reads English from the first page on. Otherwise Chinese.
    """
    languages = current_app.config["LANGUAGES"]
    if has_request_context():
        is_api = request.path.startswith("/api/")
        if is_api:
            asked = _asked_language(languages)
            if asked is not None:
                return asked
            # Set once the bearer token is read (labbook.api.auth.api_user).
            owner = g.get("api_user")
            if owner is not None and owner.locale in languages:
                return owner.locale
        if current_user.is_authenticated and current_user.locale in languages:
            return current_user.locale
        chosen = session.get("locale")
        if chosen in languages:
            return chosen
        if not is_api:
            asked = _asked_language(languages)
            if asked is not None:
                return asked
    return DEFAULT_LOCALE


def choose_locale() -> Locale:
    """``select_locale``'s language as the babel Locale flask_babel makes of it: made once per
    language and process, since making one reads its locale data anew (a Locale never changes)."""
    return babel_locale(select_locale())


@cache
def babel_locale(identifier: str) -> Locale:
    """The babel Locale of ``identifier`` ("zh_CN"), made once per process."""
    return Locale.parse(identifier)


def _asked_language(languages: tuple[str, ...]) -> str | None:
    """The first of ``languages`` the request's ``Accept-Language`` names, in its order of
    preference: any Chinese asks for zh_CN, any English for en (so "en-GB,zh-CN;q=0.8" is
    English); None when it names none of them (or only "*")."""
    g.language_negotiated = True
    by_language = {language.partition("_")[0]: language for language in languages}
    for tag, _quality in request.accept_languages:
        spoken = by_language.get(tag.replace("_", "-").partition("-")[0].lower())
        if spoken is not None:
            return spoken
    return None


def vary_on_language(response: Response) -> Response:
    """Tell caches that an answer whose language ``Accept-Language`` chose differs by that
    header, and by the cookie (the session's choice, the signed-in user) that would have won
    over it."""
    if g.get("language_negotiated"):
        vary_by(response, "Accept-Language", "Cookie")
    return response


def vary_by(response: Response, *names: str) -> None:
    """``response.vary.update(names)`` for header names (distinct tokens), without parsing a
    Vary header the answer does not have."""
    if has_header(response.headers, "Vary"):
        response.vary.update(names)
    else:
        response.headers["Vary"] = ", ".join(names)


def has_header(headers: Headers, name: str) -> bool:
    """``name in headers``, without the exception Werkzeug makes and catches inside for a
    header that is not there (some 2 µs: the answer hooks of every request ask for two
    headers most answers do not have)."""
    wanted = name.lower()
    # A loop, not any() over a generator: half the time, on every request.
    for key, _value in headers:  # noqa: SIM110
        if key.lower() == wanted:
            return True
    return False


class RememberingDomain(Domain):
    """flask_babel's domain, remembering for the rest of the request (its app context) the
    translations of the locale it last looked up: a page or an e-mail asks for a dozen texts,
    and flask_babel finds the locale and the catalogue anew for each.

    The catalogue of a locale never changes (flask_babel keeps each one for the life of the
    process), so the translations remembered for the very locale object flask_babel holds now
    are the ones it would find; ``force_locale`` and ``refresh`` put another object there.
    """

    def get_translations(self) -> NullTranslations:
        state = _babel_state()
        translations = _remembered(state, self)
        if translations is None:
            translations = super().get_translations()
            # flask_babel has now made its namespace (the request's first text) and chosen the
            # locale it looked the translations up for.
            state = _babel_state()
            if state is not None:
                state.labbook_translations = (self, getattr(state, "babel_locale", None),
                                              translations)
        return translations


def _babel_state() -> Any:
    """flask_babel's per-request namespace (where it keeps the chosen locale), None before it
    has made one or outside an app context."""
    try:
        return g._get_current_object()._flask_babel
    except (RuntimeError, AttributeError):
        return None


def _remembered(state: Any, domain: Domain | None) -> NullTranslations | None:
    """The translations ``RememberingDomain`` remembered in the request's flask_babel
    ``state`` when they are ``domain``'s for the locale the request has now; None when nothing
    is remembered, or outside a request."""
    remembered = getattr(state, "labbook_translations", None)
    if remembered is None:
        return None
    remembered_for, locale, translations = remembered
    if remembered_for is domain and locale is getattr(state, "babel_locale", None):
        return translations
    return None


def _translations() -> NullTranslations:
    """flask_babel's ``get_translations``, straight from what the request's domain remembered
    when that is for the domain and locale the request has now (else flask_babel's own way)."""
    state = _babel_state()
    translations = _remembered(state, getattr(state, "babel_domain", None))
    return get_translations() if translations is None else translations


def gettext(string: str, **variables: Any) -> str:
    """flask_babel's ``gettext`` (the same text, formatted the same way), through the
    translations the request's domain remembered instead of a lookup of that domain and its
    locale for each text: for the texts that labbook's modules translate on every request."""
    translated = _translations().ugettext(string)
    return translated % variables if variables else translated


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """flask_babel's ``ngettext``, the way ``gettext`` above is flask_babel's ``gettext``."""
    variables.setdefault("num", num)
    return _translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """flask_babel's ``lazy_gettext``, translated by ``gettext`` above each time it is used (a
    form's label, once per page that shows it)."""
    return LazyString(gettext, string, **variables)


def register(app: Flask) -> None:
    app.after_request(vary_on_language)
    babel = get_babel(app).instance
    if not isinstance(babel.__dict__.get("domain_instance"), RememberingDomain):
        babel.domain_instance = RememberingDomain(domain=get_babel(app).default_domain)
    # flask_babel's own template callables, each text of a page without its two context
    # lookups for the request's domain and locale.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def current_locale() -> Locale | None:
    """flask_babel's ``get_locale``, without its three context lookups once the locale of the
    request is chosen."""
    try:
        locale = _babel_state().babel_locale
    except AttributeError:  # not chosen yet, or outside a request
        return get_locale()
    return locale if locale is not None else get_locale()


def is_english() -> bool:
    locale = current_locale()
    return locale is not None and locale.language == "en"


def localized(obj: Any, field: str) -> str:
    """``obj.<field>_en`` in English (when filled in), otherwise ``obj.<field>_zh``."""
    if is_english():
        english = getattr(obj, f"{field}_en", "")
        if english:
            return english
    return getattr(obj, f"{field}_zh")


def duration(minutes: int) -> str:
    """A span of time given in minutes, said in its largest whole unit: "1 day", "2 hours",
    "90 minutes" — a rule such as the minimum notice reads "1 day", never "1440 minutes"."""
    if minutes >= 1440 and minutes % 1440 == 0:
        return ngettext("%(num)d day", "%(num)d days", minutes // 1440)
    if minutes >= 60 and minutes % 60 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", minutes // 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def page_language() -> str:
    """The language of the page being made, as the catalogue's directory names it
    (``zh_Hans_CN``, ``en``)."""
    return str(get_locale())


def in_page_language(message: str, said_in: str) -> str:
    """``message``, said in the language ``said_in`` (a refusal kept for the page across the
    language switch), in the language of this page: a text of labbook's catalogue is
    translated anew, its parameters read back from the message; any other text is shown as
    it was given. A parameter that was itself a translated word (a state, a tier) stays as it
    was said."""
    if said_in == page_language():
        return message
    found = _catalogue(current_app.config["BABEL_TRANSLATION_DIRECTORIES"], said_in) \
        .read(message)
    if found is None:
        return message
    msgid, parameters = found
    return gettext(msgid, **parameters)


#: A parameter in a catalogue text, as gettext formats it (``%(name)s``, ``%(n)d``,
#: ``%(hours).1f``), or a percent sign written twice.
_PARAMETER = re.compile(r"%\((?P<name>\w+)\)(?P<flags>[#0\- +]*\d*(?:\.\d+)?)(?P<kind>[sdifr])|%%")
_READ_BACK = {"s": str, "r": str, "d": int, "i": int, "f": float}


@dataclass(frozen=True)
class _Catalogue:
    """The texts of the catalogue as one language says them, to find a said text's msgid."""

    plain: dict[str, str]
    #: (the said form with its parameters as groups, the msgid, each parameter's type)
    formatted: list[tuple[re.Pattern[str], str, dict[str, Any]]]

    def read(self, message: str) -> tuple[str, dict[str, Any]] | None:
        if message in self.plain:
            return self.plain[message], {}
        for pattern, msgid, kinds in self.formatted:
            match = pattern.fullmatch(message)
            if match is None:
                continue
            try:
                return msgid, {name: kinds[name](value)
                               for name, value in match.groupdict().items()}
            except ValueError:
                continue
        return None


@cache
def _catalogue(directory: str, language: str) -> _Catalogue:
    """Built once per process and language, the first time a kept refusal is shown in
    another language than it was said in."""
    catalogues = {name: Translations.load(directory, [Locale.parse(name)])
                  for name in _languages(directory)}
    said = catalogues.get(language)
    msgids = {msgid for catalogue in catalogues.values()
              for msgid in getattr(catalogue, "_catalog", {}) if isinstance(msgid, str) and msgid}
    plain: dict[str, str] = {}
    formatted = []
    for msgid in sorted(msgids):
        text = (said.gettext(msgid) if said is not None else msgid) or msgid
        if "%" not in msgid:
            plain.setdefault(text, msgid)
            continue
        kinds: dict[str, Any] = {}
        pattern, end = [], 0
        for parameter in _PARAMETER.finditer(text):
            pattern.append(re.escape(text[end:parameter.start()]))
            name = parameter.group("name")
            if name is None:
                pattern.append("%")
            elif name in kinds:  # said twice: the same value both times
                pattern.append(f"(?P={name})")
            else:
                kinds[name] = _READ_BACK[parameter.group("kind")]
                pattern.append(f"(?P<{name}>.+?)")
            end = parameter.end()
        pattern.append(re.escape(text[end:]))
        words = len(_PARAMETER.sub("", text).strip())
        if not kinds:
            plain.setdefault(text.replace("%%", "%"), msgid)
        elif words >= _FEWEST_WORDS:
            formatted.append((words, re.compile("".join(pattern), re.DOTALL), msgid, kinds))
    # The text with the most words of its own first: "%(a)s %(b)s" would match anything.
    formatted.sort(key=lambda entry: -entry[0])
    return _Catalogue(plain, [entry[1:] for entry in formatted])


#: The fewest characters of its own a text with parameters must have to be read back: one made
#: of parameters and punctuation says nothing to translate.
_FEWEST_WORDS = 4


def _languages(directory: str) -> list[str]:
    return sorted(path.name for path in Path(directory).iterdir()
                  if (path / "LC_MESSAGES" / "messages.mo").is_file())
