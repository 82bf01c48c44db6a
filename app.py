from chalice import Chalice

from chalicelib.api import register

app = Chalice(app_name="shelf")
register(app)
