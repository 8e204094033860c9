# Defaults for the flask command in a checkout (python-dotenv loads this; real environment
# variables win). Production servers (gunicorn wsgi:app) do not read it and need SECRET_KEY.
FLASK_APP=wsgi
LABBOOK_ENV=development
