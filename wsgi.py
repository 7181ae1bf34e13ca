"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

from sosep_migrantes import create_app

app = create_app()
