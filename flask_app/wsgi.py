"""The WSGI entry point for production servers: ``gunicorn 'flask_app.wsgi:app'``.

The ``flask`` command loads ``.env`` itself; a WSGI server does not, so this module does.
"""

from dotenv import load_dotenv

from . import create_app

load_dotenv()
app = create_app()
