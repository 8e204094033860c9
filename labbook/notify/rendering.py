"""Emails rendered in their recipient's language: a subject, plain text and HTML.

Templates live in ``templates/emails/``: ``<name>.txt`` and ``<name>.html``, each extending the
matching ``_layout``. Rendering happens when a message is queued, inside the transaction of the
change it reports, so that the outbox row holds exactly what will be sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from babel.support import NullTranslations
from flask import current_app
from flask_babel import force_locale, get_translations
from markupsafe import Markup

from labbook.i18n import babel_locale
from labbook.links import base_url, external_url_under

#: Longest subject kept; longer ones (an instrument with a very long name) are cut.
MAX_SUBJECT = 300


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render(template: str, subject: Callable[[], str], locale: str,
           context: dict[str, Any]) -> RenderedEmail:
    """Render ``emails/<template>`` and the subject under ``locale``.

    ``subject`` is called under the recipient's locale too: it usually holds names that are
    themselves localized (an instrument's, a lab's).
    """
    # A Locale object rather than its name: flask_babel would parse the name for every email.
    with force_locale(babel_locale(locale)):
        title = " ".join(subject().split())
        if len(title) > MAX_SUBJECT:
            title = title[:MAX_SUBJECT - 1] + "…"
        values = {**context, "subject": title, "locale": locale, "link": _link_once()}
        translations = get_translations()
        # Not Flask's render_template: its context processors give pages the signed-in user,
        # the CSRF token and the menus' links, which no email uses (tests/notify pins this),
        # at a cost paid for every email. Nor does an email load the signed-in user, as a page's
        # context does: it depends on no request.
        environment = current_app.jinja_env
        return RenderedEmail(
            title,
            environment.get_template(f"emails/{template}.txt").render(
                {**values, **_translating(translations, html=False)}),
            environment.get_template(f"emails/{template}.html").render(
                {**values, **_translating(translations, html=True)}))


def _link_once() -> Callable[..., str]:
    """``external_url`` that builds each address once for one email (the layout's links
    appear in both the text and the HTML), under the base address read once for it."""
    base = base_url()
    built: dict[tuple, str] = {}

    def link(endpoint: str, **values: Any) -> str:
        key = (endpoint, *values.items())
        url = built.get(key)
        if url is None:
            url = built[key] = external_url_under(base, endpoint, **values)
        return url

    return link


def _translating(translations: NullTranslations, *, html: bool) -> dict[str, Callable[..., str]]:
    """``gettext`` (also as ``_``) and ``ngettext`` for the templates of one kind (text or
    HTML), bound to the catalogue of the email's locale. Flask-Babel's, which Jinja has
    otherwise, find the catalogue anew for every string. They behave as Jinja's "newstyle"
    gettext does: the translation is a format string, and in HTML a safe one whose values are
    escaped."""
    # A text without values comes out the same in every email of the locale: worked out once.
    fixed = _FIXED_TEXTS.setdefault(translations, {}).setdefault(html, {})
    as_written = Markup if html else str

    def gettext(string: str, **variables: Any) -> str:
        if not variables:
            text = fixed.get(string)
            if text is None:
                text = fixed[string] = as_written(translations.ugettext(string)) % {}
            return text
        return as_written(translations.ugettext(string)) % variables

    def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return as_written(translations.ungettext(singular, plural, num)) % variables

    # ``_`` too: the i18n extension's own ``_`` looks ``gettext`` up in the context and calls
    # it, a second call for every string.
    return {"gettext": gettext, "_": gettext, "ngettext": ngettext}


#: Per catalogue, then text or HTML, the texts without values as the templates show them.
_FIXED_TEXTS: WeakKeyDictionary[NullTranslations, dict[bool, dict[str, str]]] = \
    WeakKeyDictionary()
