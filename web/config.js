/*
 * Per-deployment settings of the intake website: the only file that changes between
 * deployments. The local stack serves its own copy and the deploy step rewrites it with the
 * stage's API address (see docs/website.md). Plain data only: app.js reads window.IOP_CONFIG.
 *
 * apiBase      origin (and optional path prefix) of the API, no trailing slash; "" = same origin
 * clinicName   shown in the header and footer
 * clinicPhone  the clinic's phone number (E.164 preferred), shown with crisis guidance
 * payers       optional: [{"id": "<payer id>", "name": "<insurer name>"}] for the insurance step
 * privacyNoticeUrl optional: link to the clinic's Notice of Privacy Practices
 */
window.IOP_CONFIG = {
  apiBase: "http://127.0.0.1:8000",
  clinicName: "Virtual IOP Clinic",
  clinicPhone: "+15550100100"
};
