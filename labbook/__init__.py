"""labbook: booking and billing for the open, shared laboratories."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from types import FunctionType
from typing import Any
from weakref import ref

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.templating import Environment, _default_template_ctx_processor
from jinja2.runtime import Context
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from labbook.config import INSTANCE_PATH, PROJECT_ROOT, Config
from labbook.core import ids
from labbook.i18n import vary_by


def create_app(config: type[Config] | dict[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` is a Config class, or a mapping of settings applied on top of ``Config``.
    """
    app = Labbook(
        __name__,
        instance_path=str(INSTANCE_PATH),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    if isinstance(config, type):
        app.config.from_object(config)
    else:
        app.config.from_object(Config)
        if config:
            app.config.update(config)
    Config.finalize(app.config)
    # Before any route is added: every <int:…> in a URL then refuses numbers no database id can
    # have, which would otherwise overflow the database driver.
    app.url_map.converters["int"] = DatabaseIdConverter
    app.session_interface = CookieSessions()
    if app.config["LABBOOK_TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = app.config["LABBOOK_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    from labbook import logs

    logs.init_app(app)
    _init_extensions(app)
    _register_blueprints(app)
    _default_context_once(app)

    from labbook import errors, health, security, template_labels, web

    errors.register(app)
    web.register(app)
    template_labels.register(app)
    security.register(app)
    health.register(app)

    from labbook.cli import labbook_cli

    app.cli.add_command(labbook_cli)
    return app


class DirectCallContext(Context):
    """Jinja's template context, calling a plain Python function straight away.

    Every call in a template goes through ``Context.call``, which first asks the callable and
    its ``__call__`` whether it wants the context, the evaluation context or the environment
    passed (``pass_context`` and its kin mark a function with ``jinja_pass_arg``): some 2 µs a
    call, 36 calls an e-mail (each ``_()``, ``link()``, ``localized()``). A plain function
    carries that mark in its own ``__dict__`` or not at all, so one look there decides; any
    other callable (a macro, a marked function, a class) goes Jinja's own way.
    """

    def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if type(function) is not FunctionType or "jinja_pass_arg" in function.__dict__:
            return super().call(function, *args, **kwargs)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return function(*args, **kwargs)
        except StopIteration:
            # As Jinja answers it: a generator's end must not end the template's own.
            return self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception")


class FlatGlobalsEnvironment(Environment):
    """Flask's Jinja environment, handing each template its globals as one flat dictionary,
    and calling plain functions straight away (``DirectCallContext``).

    Jinja hands a template a ``ChainMap`` over the environment's globals, so that a global
    added later still shows; every context of a render (a page, its layout, each include and
    each import with context; an e-mail, its layout, its macros) then copies that map key by
    key in Python, some 60 of them. labbook registers its globals in ``create_app``, before any
    template is loaded, so a plain dictionary, made when a template is loaded and copied in C,
    serves.
    """

    context_class = DirectCallContext

    def make_globals(self, d: dict[str, Any] | None) -> dict[str, Any]:  # type: ignore[override]
        return {**self.globals, **(d or {})}


class Labbook(Flask):
    """Flask, remembering which of its hooks and views are coroutine functions, with a Jinja
    environment whose templates hold their globals flat (``FlatGlobalsEnvironment``).

    Flask asks ``inspect`` anew for every hook and view of every request (~8 calls each, a
    dozen hooks a request). Whether a function is a coroutine function is fixed when it is
    made, so the answer is kept for as long as the function lives (held weakly: a function
    made for one request, such as ``after_this_request``'s, is forgotten with it).
    """

    jinja_environment = FlatGlobalsEnvironment

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: dict[ref[Callable[..., Any]], bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            synchronous = self._synchronous[ref(func)]
        except (KeyError, TypeError):  # not asked yet, or no weak reference to it possible
            return self._ask_and_remember(func)
        return func if synchronous else super().ensure_sync(func)

    def _ask_and_remember(self, func: Callable[..., Any]) -> Callable[..., Any]:
        answer = super().ensure_sync(func)
        known = self._synchronous
        with suppress(TypeError):
            known[ref(func, lambda dead: known.pop(dead, None))] = answer is func
        return answer


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` limited to what an id column holds (a signed 32-bit integer).

    A larger number is a plain 404. (Werkzeug's own ``max`` would make the rule not match,
    and then a POST to a path that also has a GET rule answered 405 instead.)
    """

    MAX_ID = ids.MAX_ID

    def to_python(self, value: str) -> Any:
        number = super().to_python(value)
        if isinstance(number, int) and number > self.MAX_ID:
            raise NotFound()
        return number


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the work a request without a session cookie (an
    API call, a probe, a first visit) does for nothing: making the signer to read a cookie it
    did not send, and reading the cookie settings for an answer that sets no cookie."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:
            if session.accessed:
                vary_by(response, "Cookie")
            return
        super().save_session(app, session, response)


def _init_extensions(app: Flask) -> None:
    import labbook.models  # noqa: F401  (registers every table)
    from labbook import i18n
    from labbook.core.engine import (
        begin_at_first_write,
        check_pooled_connections,
        configure_sqlite,
        keep_prepared_statements,
        plan_marked_statements_each_time,
    )
    from labbook.extensions import babel, csrf, db, login_manager, migrate

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, db.session)
        else:
            keep_prepared_statements(db.engine, db.session)
            begin_at_first_write(db.engine)
            plan_marked_statements_each_time(db.engine)
            # Runs before Flask-SQLAlchemy's removal of the session (teardowns run in reverse).
            app.teardown_appcontext(_commit_what_only_read)
            if app.config["LABBOOK_CHECK_POOLED_CONNECTIONS"]:
                check_pooled_connections(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True,
                     render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.choose_locale,
                   timezone_selector=i18n.select_timezone)
    i18n.register(app)
    from labbook import ratelimit

    ratelimit.init_app(app)


def _default_context_once(app: Flask) -> None:
    """Flask copies its default context processor (``g``, ``request``, ``session``) to every
    blueprint it registers, so a blueprint's page ran it twice for the same three values; the
    app's own copy, which runs for every page, is kept."""
    for blueprint, processors in app.template_context_processors.items():
        if blueprint is not None:
            processors[:] = [processor for processor in processors
                             if processor is not _default_template_ctx_processor]


def _commit_what_only_read(error: BaseException | None) -> None:
    """A request's transaction that only read (under locks: plain reads open none, see
    ``core.engine.begin_at_first_write``) ends with COMMIT rather than ROLLBACK, which would
    make psycopg forget its prepared statements (``core.engine.keep_prepared_statements``)."""
    from labbook.core.engine import end_if_it_wrote_nothing
    from labbook.extensions import db

    if error is None and db.session.registry.has():
        end_if_it_wrote_nothing(db.session)


def _register_blueprints(app: Flask) -> None:
    from labbook.accounts.views import bp as accounts_bp
    from labbook.admin.views import bp as admin_bp
    from labbook.api import routes as api_routes
    from labbook.billing.money_views import bp as money_bp
    from labbook.billing.views import bp as billing_bp
    from labbook.booking.manage_views import bp as manage_bp
    from labbook.booking.views import bp as booking_bp
    from labbook.calendars.views import bp as calendars_bp
    from labbook.catalogue.views import bp as catalogue_bp
    from labbook.enterprises.views import bp as enterprises_bp
    from labbook.faults.views import bp as faults_bp
    from labbook.holidays.views import bp as holidays_bp
    from labbook.mobile.views import bp as mobile_bp
    from labbook.notify.views import bp as notifications_bp
    from labbook.orders.views import bp as orders_bp
    from labbook.privacy.views import bp as privacy_bp
    from labbook.reports.sharing_views import bp as sharing_bp
    from labbook.reports.views import bp as reports_bp
    from labbook.testing.views import bp as testing_bp
    from labbook.training.views import bp as training_bp

    app.register_blueprint(catalogue_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(booking_bp)
    app.register_blueprint(manage_bp)
    app.register_blueprint(calendars_bp)
    app.register_blueprint(testing_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(billing_bp)
    app.register_blueprint(money_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(faults_bp)
    app.register_blueprint(sharing_bp)
    app.register_blueprint(holidays_bp)
    app.register_blueprint(training_bp)
    app.register_blueprint(enterprises_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(mobile_bp)
    app.register_blueprint(notifications_bp)
    api_routes.register(app)
