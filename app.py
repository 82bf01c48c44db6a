from chalice import Chalice

from chalicelib.api import register

# Powertools configures the `shelf` logger (chalicelib/observability.py): Chalice adding its own handler
# to that same logger would write every line twice.
app = Chalice(app_name="shelf", configure_logs=False)
register(app)
