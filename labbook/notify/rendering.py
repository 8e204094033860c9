"""Emails rendered in their recipient's language: a subject, plain text and HTML.

Templates live in ``templates/emails/``: ``<name>.txt`` and ``<name>.html``, each extending the
matching ``_layout``. Rendering happens when a message is queued, inside the transaction of the
change it reports, so that the outbox row holds exactly what will be sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import render_template
from flask_babel import force_locale

from labbook.links import external_url

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
    with force_locale(locale):
        title = " ".join(subject().split())
        if len(title) > MAX_SUBJECT:
            title = title[:MAX_SUBJECT - 1] + "…"
        values = {**context, "subject": title, "locale": locale, "link": external_url}
        return RenderedEmail(title, render_template(f"emails/{template}.txt", **values),
                             render_template(f"emails/{template}.html", **values))
