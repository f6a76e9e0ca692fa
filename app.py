"""virtual-iop: the Chalice app. Registers each workflow's blueprint, nothing else."""

from chalice import Chalice

from functions.audit.routes import bp as audit_routes_bp
from functions.checkins.routes import bp as checkins_routes_bp
from functions.core.api import bp as core_bp
from functions.crisis.handler import bp as crisis_bp
from functions.crisis.routes import bp as crisis_routes_bp
from functions.fhir.routes import bp as fhir_routes_bp
from functions.inbound.handler import bp as inbound_bp
from functions.insurance.handler import bp as insurance_bp
from functions.insurance.routes import bp as insurance_routes_bp
from functions.intake.handler import bp as intake_bp
from functions.reminders.handler import bp as reminders_bp
from functions.reminders.routes import bp as reminders_routes_bp
from functions.staffq.routes import bp as staffq_routes_bp

app = Chalice(app_name="virtual-iop")
app.register_blueprint(core_bp)
app.register_blueprint(intake_bp)
app.register_blueprint(insurance_bp)
app.register_blueprint(insurance_routes_bp)
app.register_blueprint(reminders_bp)
app.register_blueprint(reminders_routes_bp)
app.register_blueprint(inbound_bp)
app.register_blueprint(crisis_bp)
app.register_blueprint(crisis_routes_bp)
app.register_blueprint(audit_routes_bp)
app.register_blueprint(staffq_routes_bp)
app.register_blueprint(fhir_routes_bp)
app.register_blueprint(checkins_routes_bp)
