"""Unbound extension objects, bound to an app in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from labbook.core.db import Base

# Objects stay usable after commit without a reload per attribute: a request renders what it
# just wrote, and anything read inside a write transaction is current anyway.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Limits are declared where they apply (sign-in, password reset, feeds, the API); there is no
# blanket default. Behind a proxy the address is the client's only with LABBOOK_TRUSTED_PROXIES.
limiter = Limiter(key_func=get_remote_address)
