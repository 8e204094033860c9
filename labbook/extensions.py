"""Unbound extension objects, bound to an app in ``create_app``."""

from typing import Any

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf import CSRFProtect

from labbook.core.db import Base


class OneEngineSession(Session):
    """Flask-SQLAlchemy's session, which looks for the engine of every statement it runs among
    the app's engines by the bind key of each table the statement names. Labbook has one engine
    (no ``SQLALCHEMY_BINDS``), and a session serves one app context: the engine found first is
    the answer for the session's life, found once rather than on every statement."""

    _engine: Any = None

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None,
                 **kwargs: Any) -> Any:
        if bind is not None:
            return bind
        if self._engine is None:
            engine = super().get_bind(mapper, clause, **kwargs)
            if len(self._db.engines) != 1:
                return engine
            self._engine = engine
        return self._engine


# Objects stay usable after commit without a reload per attribute: a request renders what it
# just wrote, and anything read inside a write transaction is current anyway.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False,
                                                   "class_": OneEngineSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Limits are declared where they apply (sign-in, password reset, feeds, the API); there is no
# blanket default. Behind a proxy the address is the client's only with LABBOOK_TRUSTED_PROXIES.
limiter = Limiter(key_func=get_remote_address)
