"""The application object: Flask, remembering which of its hooks and views are coroutines."""

import gc

import pytest
from flask import Flask
from flask.templating import _default_template_ctx_processor
from jinja2 import pass_context, pass_environment, pass_eval_context

from labbook import Labbook


@pytest.fixture
def flask_app():
    return Labbook(__name__)


def test_a_plain_function_is_called_as_it_is_every_time(flask_app):
    def hook(response):
        return response

    assert flask_app.ensure_sync(hook) is hook
    assert flask_app.ensure_sync(hook) is hook


def test_a_coroutine_function_gets_what_flask_gives_it_every_time(flask_app):
    async def hook(response):
        return response

    for _time in range(2):
        with pytest.raises(RuntimeError) as ours:  # Flask runs coroutines only with asgiref
            flask_app.ensure_sync(hook)
        with pytest.raises(RuntimeError) as flasks:
            Flask.ensure_sync(flask_app, hook)
        assert str(ours.value) == str(flasks.value)


def test_what_cannot_be_remembered_weakly_is_asked_about_each_time(flask_app):
    class Hook:
        __slots__ = ()

        def __call__(self, response):
            return response

    hook = Hook()
    assert flask_app.ensure_sync(hook) is hook
    assert flask_app.ensure_sync(hook) is hook


def test_a_function_made_for_one_request_is_forgotten_with_it(flask_app):
    def make_hook():
        def hook(response):
            return response
        return hook

    hooks = [make_hook() for _ in range(3)]
    for hook in hooks:
        assert flask_app.ensure_sync(hook) is hook
        assert flask_app.ensure_sync(hook.__get__(object())) is not None  # a bound method
    assert len(flask_app._synchronous) == 3
    del hooks, hook
    gc.collect()
    assert flask_app._synchronous == {}


def test_a_blueprints_page_gets_flasks_default_context_once(make_app):
    """Flask gives every blueprint its own copy of the processor that puts ``g``, ``request``
    and ``session`` into a template, which the app's already does for every page."""
    other = make_app()
    calls = []

    def counted() -> dict:
        calls.append(1)
        return _default_template_ctx_processor()

    for processors in other.template_context_processors.values():
        processors[:] = [counted if processor is _default_template_ctx_processor else processor
                         for processor in processors]
    page = other.test_client().get("/instruments")
    assert page.status_code == 200 and "/instruments" in page.get_data(as_text=True)
    assert len(calls) == 1


def test_a_template_holds_every_global_of_the_app_in_one_flat_dictionary(app):
    """Each context of a render copies its template's globals: a plain dict is copied in C,
    Jinja's default ChainMap key by key in Python. The dict is made when the template is
    loaded, so every global must be registered by then, in ``create_app``: a page or an
    e-mail loaded after the app is made sees them all."""
    for name in ("base.html", "emails/_layout.html"):
        template = app.jinja_env.get_template(name)
        assert type(template.globals) is dict
        assert template.globals == app.jinja_env.globals
    assert {"localized", "url_for", "booking_state_labels", "_"} <= set(template.globals)


def test_a_template_calls_every_kind_of_callable_as_jinja_does(flask_app):
    """Plain functions are called straight away (``DirectCallContext``); what Jinja passes
    something to, and everything else, is called Jinja's way."""

    def plain(*args, **kwargs):
        return ",".join([*map(str, args), *(f"{k}={v}" for k, v in sorted(kwargs.items()))])

    def ends():
        raise StopIteration

    class Greeter:
        @pass_context
        def __call__(self, context, name):
            return f"{context['greeting']} {name}"

    environment = flask_app.jinja_env
    environment.globals.update(
        plain=plain, ends=ends, greeter=Greeter(),
        with_context=pass_context(lambda context, name: f"{context['greeting']} {name}"),
        with_environment=pass_environment(lambda env, name: f"{env is environment} {name}"),
        with_eval_context=pass_eval_context(lambda eval_ctx, name: f"{eval_ctx.autoescape}"))
    template = environment.from_string(
        "{{ plain(1, self=2, obj=3, function=4) }}|{{ ends() is undefined }}|"
        "{{ with_context('Li') }}|{% for n in [1] %}{% set greeting = 'Hi' %}"
        "{{ with_context('Wang') }}{% endfor %}|{{ with_environment('Zhang') }}|"
        "{{ with_eval_context('Chen') }}|{{ greeter('Liu') }}|{{ dict(a=1)['a'] }}")
    assert template.render(greeting="Hello") == (
        "1,function=4,obj=3,self=2|True|Hello Li|Hi Wang|True Zhang|True|Hello Liu|1")
