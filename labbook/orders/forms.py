"""The testing-order request page's inputs as one form, so that a refused request is kept across
its redirect (``labbook.web.keep_refused``). The page is written by hand, a line of inputs per
service slot, and the order's rules check what it sends (``services.quote_order``, ``submit``),
not this form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import StringField

#: Service slots on the order page: each a service code, a method, express and its samples,
#: one sample a line: "name | batch | specification | quantity | condition | hazards".
LINE_SLOTS = 5
LINE_INPUTS = ("service", "method", "express", "samples")


class OrderRequestForm(FlaskForm):
    remains = StringField()
    report_language = StringField()
    contact_phone = StringField()
    notes = StringField()
    terms_confirmed = StringField()
    #: The total the page showed (its quote), at which alone "Submit" places the order.
    shown_total = StringField()
    #: "quote" (show the price and terms) or "submit".
    action = StringField()

    def sent(self) -> MultiDict:
        """What the page sent, as it sent it."""
        return MultiDict([(name, value) for name, field in self._fields.items()
                          if name != "csrf_token" for value in field.raw_data or []])


for _slot in range(LINE_SLOTS):
    for _input in LINE_INPUTS:
        setattr(OrderRequestForm, f"{_input}_{_slot}", StringField())
