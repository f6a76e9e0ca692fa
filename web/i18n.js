/*
 * The patient pages' words (intake: index.html + app.js; repeat screening: assess.html + assess.js),
 * one catalogue per language with the same keys. The screening instruments' own wording is not
 * here: it is in screening.js, with its published sources.
 *
 * A message is one whole sentence or more in one language: never build a sentence from pieces.
 * In a message, {name} is a value filled in (a number, a phone number, or a page element), and
 * [text](href) is a link (tel:, sms: or https: only). Pages call:
 *   IOP_I18N.language()          the chosen language: ?lang=en|es, else the last choice kept in
 *                                localStorage, else "en"
 *   IOP_I18N.choose(lang)        keep the choice (localStorage) and put it in the address bar
 *   IOP_I18N.t(lang, key, params)    the text of a message ({name} filled, links as their text)
 *   IOP_I18N.fill(node, lang, key, params)   replace node's content with the message (links as <a>)
 *   IOP_I18N.apply(root, lang)   fill every [data-i18n="key"] inside root, set <html lang> and
 *                                every [data-i18n-attr="attr:key;attr:key"] attribute
 * Defines window.IOP_I18N and nothing else. Everything goes in through textContent / DOM nodes.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "iop.language";
  var LANGUAGES = ["en", "es"];

  var EN = {
    // ------------------------------------------------------------------ shared: language switch
    "lang.switch_label": "Language",
    "lang.en": "English",
    "lang.es": "Español",
    // ------------------------------------------------------------------ shared: crisis banner and help view
    "skip.form": "Skip to the form",
    "crisis.banner": "If you are in crisis, call or text [988](tel:988) (press 1 for veterans). " +
      "If you are in immediate danger, call [911](tel:911).",
    "crisis.call988": "Call 988",
    "crisis.text988": "Text 988",
    "crisis.call911": "Call 911",
    "crisis.help_now": "I need help now",
    "crisis.call_clinic": "Call the clinic: {phone}",
    "crisis.heading": "Help is available right now",
    "crisis.lead": "If you are in immediate danger, call 911. To talk or text with a trained crisis counselor " +
      "any time, call or text 988 (press 1 for veterans).",
    "crisis.from_clinic": "From the clinic:",
    "help.heading": "Get help now",
    "help.text": "If you are in danger right now, call [911](tel:911). To talk or text with a crisis counselor " +
      "any time, call or text [988](tel:988).",
    "help.intro": "We will let the clinic's on-call team know and they will call you back.",
    "help.phone": "Your phone number",
    "help.phone_hint": "So the on-call team can call you.",
    "help.message": "What is happening?",
    "help.send": "Send to the on-call team",
    "help.close": "Close",
    // sent to the on-call team as the message when the person typed none: always in English (staff
    // pages stay in the clinic's language), whatever the page's language
    "help.default_message": "I need help now (sent from the intake website).",
    "help.sending": "Contacting the clinic's on-call team…",
    "help.retrying": "Still trying to reach the on-call team (attempt {n} of {total})… Do not wait: call or " +
      "text 988 now.",
    "help.sent": "We have let the clinic's on-call team know. Keep your phone nearby.",
    "help.check_phone": "Please check your phone number. If you are in danger, call 911 now.",
    "help.failed": "We could not reach the clinic's system. Please call or text 988 now, or call 911 if you are " +
      "in danger.",
    "help.error_phone_format": "Enter a phone number like (212) 201-4477.",
    "help.error_phone_missing": "Enter your phone number so the team can call you.",
    // ------------------------------------------------------------------ shared: forms
    "form.optional": "(optional)",
    "form.error_prefix": "Error: ",
    "form.check_answer": "Check this answer.",
    "form.check_answers": "Check your answers.",
    "form.summary_title": "Please check these answers",
    "form.summary_one": "There is 1 problem to fix.",
    "form.summary_many": "There are {count} problems to fix.",
    "form.choose_answer": "Choose an answer for question {n}.",
    "form.choose_yes_no": "Choose yes or no.",
    "form.yes": "Yes",
    "form.no": "No",
    "form.not_given": "Not given",
    "form.call_clinic_too": "You can also call the clinic at {phone}.",
    "footer.phone": "{clinic}. Phone: {phone}.",
    // ------------------------------------------------------------------ intake: page
    "intake.title": "Start your intake",
    "intake.heading": "Start your intake",
    "intake.noscript": "This form needs JavaScript. Please turn it on, or call the clinic to do your intake by phone.",
    "intake.step_of": "Step {n} of {total}: {title}",
    "intake.doc_title": "Step {n} of {total}: {title} – Start your intake",
    "intake.doc_title_done": "Intake received – {clinic}",
    "intake.honeypot": "Website (leave empty)",
    "intake.back": "Back",
    "intake.next": "Next",
    "intake.submit": "Submit",
    // about
    "about.heading": "About you",
    "about.required_hint": "Fields are required unless they say optional.",
    "about.first_name": "First name",
    "about.last_name": "Last name",
    "about.dob": "Date of birth",
    "about.dob_hint": "For example, April 27, 1990.",
    "about.contact_hint": "Give an email, a phone number, or both.",
    "about.email": "Email",
    "about.phone": "Mobile phone",
    "about.phone_hint": "A US number such as (212) 201-4477, or an international number starting with +.",
    "about.timezone": "Your time zone",
    "about.timezone_hint": "We send reminders at sensible times in this time zone.",
    "about.timezone_other": "Time zone name",
    "about.timezone_other_hint": "An IANA time zone name, for example America/Detroit or Europe/Madrid.",
    "about.timezone_choose": "Choose your time zone",
    "about.timezone_another": "Another time zone",
    "address.home": "Home address",
    "address.line1": "Street address, including apartment or unit",
    "address.city": "City",
    "address.state": "State",
    "address.state_choose": "Choose a state",
    "address.zip": "ZIP code",
    "tz.America/New_York": "Eastern time (New York)",
    "tz.America/Chicago": "Central time (Chicago)",
    "tz.America/Denver": "Mountain time (Denver)",
    "tz.America/Phoenix": "Mountain time without daylight saving (Arizona)",
    "tz.America/Los_Angeles": "Pacific time (Los Angeles)",
    "tz.America/Anchorage": "Alaska time (Anchorage)",
    "tz.Pacific/Honolulu": "Hawaii time (Honolulu)",
    "tz.America/Puerto_Rico": "Atlantic time (Puerto Rico)",
    // location
    "location.heading": "Where you are now",
    "location.intro": "Your sessions are by video. If you need urgent help during a session, your care team " +
      "must know where to send it, so tell us where you are right now.",
    "location.same": "I am at my home address",
    "location.address": "Address where you are now",
    // emergency
    "emergency.heading": "Emergency contact",
    "emergency.intro": "Someone near you we can call if we are worried about your safety.",
    "emergency.name": "Their full name",
    "emergency.relationship": "How they are related to you",
    "emergency.relationship_hint": "For example: partner, parent, friend.",
    "emergency.phone": "Their phone number",
    // insurance
    "insurance.heading": "Insurance",
    "insurance.how_pay": "How will you pay for care?",
    "insurance.with": "With my health insurance",
    "insurance.self_pay": "I'll pay myself",
    "insurance.company": "Insurance company",
    "insurance.company_choose": "Choose your insurance company",
    "insurance.company_another": "Another insurance company",
    "insurance.company_name": "Insurance company name",
    "insurance.company_name_hint": "As printed on your insurance card.",
    "insurance.payer_id": "Payer ID",
    "insurance.payer_id_hint": "Some cards show a payer ID for claims, often on the back.",
    "insurance.member_id": "Member ID",
    "insurance.group_number": "Group number",
    "insurance.whose": "Whose plan is it?",
    "insurance.whose_self": "Mine (I am the policy holder)",
    "insurance.whose_spouse": "My spouse's or partner's",
    "insurance.whose_child": "A parent's (I am their child)",
    "insurance.whose_other": "Someone else's",
    "insurance.holder": "The policy holder",
    "insurance.holder_hint": "The person whose name is on the insurance plan, as on the card. The insurance " +
      "company looks you up under their name.",
    "insurance.holder_first": "Their first name",
    "insurance.holder_last": "Their last name",
    "insurance.holder_dob": "Their date of birth",
    "insurance.holder_dob_hint": "For example, April 27, 1970.",
    // screening
    "screening.heading": "How you have been feeling",
    "screening.intro": "These are standard questions clinicians use. Some ask about suicide. Answer as honestly " +
      "as you can: a clinician reads your answers. If you are in danger now, call 911 or call or text 988; do " +
      "not wait for us.",
    "screening.risk_note": "Thank you for telling us. If you are thinking about ending your life right now, call " +
      "or text [988](tel:988) (press 1 for veterans) to talk with someone now, or call [911](tel:911) if you are " +
      "in danger. You can also press “I need help now” at the top of the page.",
    "screening.english_only": "These questions are shown in English until the clinic has checked the published " +
      "Spanish version.",
    // preferences
    "prefs.heading": "Your preferences",
    "prefs.channels": "How should we send you reminders?",
    "prefs.sms": "Text message (SMS)",
    "prefs.email": "Email",
    "prefs.times": "Which times of day suit you for sessions?",
    "prefs.morning": "Morning",
    "prefs.afternoon": "Afternoon",
    "prefs.evening": "Evening",
    "prefs.language": "Which language do you prefer for your care?",
    // consent
    "consent.heading": "Consent",
    "consent.telehealth": "I agree to receive care by secure video (telehealth).",
    "consent.telehealth_hint": "Telehealth has benefits and some risks, such as a dropped connection. If that " +
      "happens during a session, your care team will try to reach you by phone. Required.",
    "consent.privacy": "I have received and read the clinic's Notice of Privacy Practices.",
    "consent.required": "Required.",
    "consent.privacy_link": "Read the Notice of Privacy Practices (opens in a new tab)",
    "consent.sms": "I agree to get appointment text messages.",
    "consent.sms_hint": "At most one a day, to the phone number you gave. Message and data rates may apply. " +
      "Reply STOP to opt out at any time.",
    "consent.email": "I agree to get appointment emails.",
    "consent.signature": "Type your full name to sign",
    // review
    "review.heading": "Check your answers",
    "review.intro": "Check your answers, then press Submit. You can change anything before you submit.",
    "review.change": "Change",
    "review.name": "Name",
    "review.dob": "Date of birth",
    "review.email": "Email",
    "review.phone": "Phone",
    "review.timezone": "Time zone",
    "review.home_address": "Home address",
    "review.address": "Address",
    "review.my_home": "My home address",
    "review.relationship": "Relationship",
    "review.company": "Insurance company",
    "review.member_id": "Member ID",
    "review.group_number": "Group number",
    "review.whose": "Whose plan",
    "review.holder": "Policy holder",
    "review.holder_dob": "Policy holder's date of birth",
    "review.payment": "Payment",
    "review.not_answered": "Not answered",
    "review.answered": "Questions answered",
    "review.answered_count": "{answered} of {total}",
    "review.reminders": "Reminders by",
    "review.text_message": "Text message",
    "review.no_preference": "No preference",
    "review.times": "Session times",
    "review.language": "Language",
    "review.telehealth": "Telehealth",
    "review.privacy": "Privacy notice read",
    "review.texts": "Appointment texts",
    "review.emails": "Appointment emails",
    "review.signed": "Signed",
    "review.not_signed": "Not signed",
    "review.list_separator": ", ",
    // confirmation
    "done.heading": "Thank you. We have received your intake.",
    "done.ref": "Your reference number is {id}. Keep it in case you call us.",
    "done.next": "Someone from the clinic's intake team will review your answers and contact you about next steps.",
    "done.questions": "Questions? Call the clinic at {phone}.",
    "done.crisis_lead": "Thank you for telling us how you are feeling. Some of your answers tell us you may be " +
      "going through a very hard time. The clinic's care team will follow up with you, and you do not have to " +
      "wait for them.",
    // submission
    "submit.sending": "Sending your answers…",
    "submit.retrying": "Connection problem. Trying again (attempt {n} of {total})… Please keep this page open.",
    "submit.resubmit": "Send these answers as a new submission",
    "status.400": "Your answers could not be read by our system. Please check them and press Submit again.",
    "status.413": "Your answers are too long to send. Please shorten the longest answers and press Submit again.",
    "status.415": "Your answers could not be read by our system. Please reload the page and try again.",
    "status.429": "Too many tries in a short time. Please wait a minute, then press Submit again.",
    "status.network": "We could not reach the clinic's system. Check your internet connection, then press Submit " +
      "again: your answers are still here, and you will not be registered twice.",
    "status.server": "The clinic's system had a problem saving your form. Your answers are still here: please " +
      "press Submit again in a minute. You will not be registered twice.",
    "status.conflict": "We already received a submission from this form with different answers. If you changed " +
      "something after it was sent, you can send these answers as a new submission.",
    // validation
    "err.line1": "Enter the street address.",
    "err.city": "Enter the city.",
    "err.state": "Choose the state.",
    "err.zip": "Enter the ZIP code.",
    "err.zip_format": "Enter a 5-digit ZIP code, like 02139.",
    "err.first_name": "Enter your first name.",
    "err.last_name": "Enter your last name.",
    "err.dob": "Enter your date of birth.",
    "err.dob_format": "Enter your date of birth as year, month and day, for example 1990-04-27.",
    "err.dob_real": "Enter a real date of birth.",
    "err.dob_future": "Date of birth cannot be in the future.",
    "err.dob_min_age": "This program is for people aged 12 and over.",
    "err.dob_year": "Check the year of your date of birth.",
    "err.holder_dob_format": "Enter the date of birth as year, month and day, for example 1970-04-27.",
    "err.holder_dob_year": "Check the year of the date of birth.",
    "err.email_or_phone": "Enter an email or a phone number so we can reach you.",
    "err.phone_or_email": "Enter a phone number or an email so we can reach you.",
    "err.email_format": "Enter an email address like name@example.com.",
    "err.phone_format": "Enter a phone number like (212) 201-4477, or an international number starting with +.",
    "err.timezone": "Choose your time zone.",
    "err.timezone_name": "Enter a time zone name such as America/Detroit, or choose one from the list.",
    "err.ec_name": "Enter your emergency contact's name.",
    "err.ec_relationship": "Say how your emergency contact is related to you.",
    "err.ec_phone": "Enter your emergency contact's phone number.",
    "err.coverage": "Choose insurance or paying yourself.",
    "err.payer": "Choose your insurance company.",
    "err.payer_name": "Enter your insurance company's name.",
    "err.member_id": "Enter the member ID from your insurance card.",
    "err.holder_first": "Enter the policy holder's first name.",
    "err.holder_last": "Enter the policy holder's last name.",
    "err.holder_dob": "Enter the policy holder's date of birth.",
    "err.telehealth": "To take part in a virtual program, agree to telehealth care.",
    "err.privacy": "Confirm that you have read the Notice of Privacy Practices.",
    "err.signature": "Type your full name to sign.",
    // ------------------------------------------------------------------ repeat screening: assess page
    "assess.title": "Your check-in questions",
    "assess.heading": "How you have been feeling",
    "assess.intro": "Your care team asks these questions every week or so to see how treatment is going for " +
      "you. They take about three minutes. A clinician reads your answers. If you are in danger now, call 911 " +
      "or call or text 988; do not wait for us.",
    "assess.no_token": "This link is not complete. Open the link from your message again, or ask the clinic " +
      "for a new one.",
    "assess.submit": "Send my answers",
    "assess.sending": "Sending your answers…",
    "assess.done_heading": "Thank you. Your care team has your answers.",
    "assess.done_text": "You can close this page. Your care team will talk about your answers with you at your " +
      "next session.",
    "assess.done_crisis_lead": "Thank you for telling us how you are feeling. Some of your answers tell us you " +
      "may be going through a very hard time. The clinic's care team will follow up with you, and you do not " +
      "have to wait for them.",
    "assess.used": "These answers were already sent with this link, so it cannot be used again. If you want to " +
      "tell your care team something, call the clinic.",
    "assess.expired": "This link has expired or is not valid. Please ask the clinic for a new one.",
    "assess.network": "We could not reach the clinic's system. Check your internet connection, then press " +
      "“Send my answers” again: your answers are still here.",
    "assess.server": "The clinic's system had a problem saving your answers. Your answers are still here: " +
      "please try again in a minute."
  };

  var ES = {
    "lang.switch_label": "Idioma",
    "lang.en": "English",
    "lang.es": "Español",
    "skip.form": "Ir al formulario",
    "crisis.banner": "Si está en crisis, llame al [988](tel:988) y marque 2 para hablar en español, o envíe " +
      "AYUDA por mensaje de texto al [988](sms:988). Si está en peligro inmediato, llame al [911](tel:911).",
    "crisis.call988": "Llamar al 988",
    "crisis.text988": "Enviar AYUDA al 988",
    "crisis.call911": "Llamar al 911",
    "crisis.help_now": "Necesito ayuda ahora",
    "crisis.call_clinic": "Llamar a la clínica: {phone}",
    "crisis.heading": "Hay ayuda disponible ahora mismo",
    "crisis.lead": "Si está en peligro inmediato, llame al 911. Para hablar con un consejero de crisis a " +
      "cualquier hora, llame al 988 y marque 2 para español, o envíe AYUDA por mensaje de texto al 988.",
    "crisis.from_clinic": "De la clínica:",
    "help.heading": "Obtener ayuda ahora",
    "help.text": "Si está en peligro ahora mismo, llame al [911](tel:911). Para hablar con un consejero de " +
      "crisis a cualquier hora, llame al [988](tel:988) y marque 2, o envíe AYUDA por mensaje de texto al " +
      "[988](sms:988).",
    "help.intro": "Avisaremos al equipo de guardia de la clínica y le devolverán la llamada.",
    "help.phone": "Su número de teléfono",
    "help.phone_hint": "Para que el equipo de guardia pueda llamarle.",
    "help.message": "¿Qué está pasando?",
    "help.send": "Enviar al equipo de guardia",
    "help.close": "Cerrar",
    "help.default_message": "I need help now (sent from the intake website).",
    "help.sending": "Comunicándonos con el equipo de guardia de la clínica…",
    "help.retrying": "Seguimos intentando comunicarnos con el equipo de guardia (intento {n} de {total})… No " +
      "espere: llame al 988 o envíe AYUDA al 988 ahora.",
    "help.sent": "Avisamos al equipo de guardia de la clínica. Tenga su teléfono cerca.",
    "help.check_phone": "Revise su número de teléfono. Si está en peligro, llame al 911 ahora.",
    "help.failed": "No pudimos comunicarnos con el sistema de la clínica. Llame al 988 o envíe AYUDA al 988 " +
      "ahora, o llame al 911 si está en peligro.",
    "help.error_phone_format": "Escriba un número de teléfono como (212) 201-4477.",
    "help.error_phone_missing": "Escriba su número de teléfono para que el equipo pueda llamarle.",
    "form.optional": "(opcional)",
    "form.error_prefix": "Error: ",
    "form.check_answer": "Revise esta respuesta.",
    "form.check_answers": "Revise sus respuestas.",
    "form.summary_title": "Revise estas respuestas",
    "form.summary_one": "Hay 1 problema que corregir.",
    "form.summary_many": "Hay {count} problemas que corregir.",
    "form.choose_answer": "Elija una respuesta para la pregunta {n}.",
    "form.choose_yes_no": "Elija sí o no.",
    "form.yes": "Sí",
    "form.no": "No",
    "form.not_given": "No indicado",
    "form.call_clinic_too": "También puede llamar a la clínica al {phone}.",
    "footer.phone": "{clinic}. Teléfono: {phone}.",
    "intake.title": "Comience su admisión",
    "intake.heading": "Comience su admisión",
    "intake.noscript": "Este formulario necesita JavaScript. Actívelo o llame a la clínica para hacer su " +
      "admisión por teléfono.",
    "intake.step_of": "Paso {n} de {total}: {title}",
    "intake.doc_title": "Paso {n} de {total}: {title} – Comience su admisión",
    "intake.doc_title_done": "Admisión recibida – {clinic}",
    "intake.honeypot": "Sitio web (déjelo vacío)",
    "intake.back": "Atrás",
    "intake.next": "Siguiente",
    "intake.submit": "Enviar",
    "about.heading": "Sobre usted",
    "about.required_hint": "Todos los campos son obligatorios, salvo los que dicen opcional.",
    "about.first_name": "Nombre",
    "about.last_name": "Apellido",
    "about.dob": "Fecha de nacimiento",
    "about.dob_hint": "Por ejemplo, 27 de abril de 1990.",
    "about.contact_hint": "Indique un correo electrónico, un número de teléfono o ambos.",
    "about.email": "Correo electrónico",
    "about.phone": "Teléfono celular",
    "about.phone_hint": "Un número de EE. UU. como (212) 201-4477, o un número internacional que empiece con +.",
    "about.timezone": "Su zona horaria",
    "about.timezone_hint": "Enviamos los recordatorios a horas razonables en esta zona horaria.",
    "about.timezone_other": "Nombre de la zona horaria",
    "about.timezone_other_hint": "Un nombre de zona horaria IANA, por ejemplo America/Detroit o Europe/Madrid.",
    "about.timezone_choose": "Elija su zona horaria",
    "about.timezone_another": "Otra zona horaria",
    "address.home": "Dirección de su casa",
    "address.line1": "Calle y número, con apartamento o unidad",
    "address.city": "Ciudad",
    "address.state": "Estado",
    "address.state_choose": "Elija un estado",
    "address.zip": "Código postal (ZIP)",
    "tz.America/New_York": "Hora del este (Nueva York)",
    "tz.America/Chicago": "Hora del centro (Chicago)",
    "tz.America/Denver": "Hora de la montaña (Denver)",
    "tz.America/Phoenix": "Hora de la montaña sin horario de verano (Arizona)",
    "tz.America/Los_Angeles": "Hora del Pacífico (Los Ángeles)",
    "tz.America/Anchorage": "Hora de Alaska (Anchorage)",
    "tz.Pacific/Honolulu": "Hora de Hawái (Honolulu)",
    "tz.America/Puerto_Rico": "Hora del Atlántico (Puerto Rico)",
    "location.heading": "Dónde está ahora",
    "location.intro": "Sus sesiones son por video. Si necesita ayuda urgente durante una sesión, su equipo de " +
      "atención debe saber adónde enviarla, así que díganos dónde está en este momento.",
    "location.same": "Estoy en la dirección de mi casa",
    "location.address": "Dirección donde está ahora",
    "emergency.heading": "Contacto de emergencia",
    "emergency.intro": "Una persona cercana a quien podamos llamar si nos preocupa su seguridad.",
    "emergency.name": "Su nombre completo",
    "emergency.relationship": "Qué relación tiene con usted",
    "emergency.relationship_hint": "Por ejemplo: pareja, padre o madre, amigo.",
    "emergency.phone": "Su número de teléfono",
    "insurance.heading": "Seguro médico",
    "insurance.how_pay": "¿Cómo pagará la atención?",
    "insurance.with": "Con mi seguro médico",
    "insurance.self_pay": "Pagaré yo mismo",
    "insurance.company": "Compañía de seguros",
    "insurance.company_choose": "Elija su compañía de seguros",
    "insurance.company_another": "Otra compañía de seguros",
    "insurance.company_name": "Nombre de la compañía de seguros",
    "insurance.company_name_hint": "Como aparece en su tarjeta del seguro.",
    "insurance.payer_id": "Número de pagador (Payer ID)",
    "insurance.payer_id_hint": "Algunas tarjetas muestran un número de pagador para reclamos, a menudo al reverso.",
    "insurance.member_id": "Número de miembro (Member ID)",
    "insurance.group_number": "Número de grupo",
    "insurance.whose": "¿De quién es el plan?",
    "insurance.whose_self": "Mío (yo soy el titular de la póliza)",
    "insurance.whose_spouse": "De mi cónyuge o pareja",
    "insurance.whose_child": "De mi padre o madre (soy su hijo o hija)",
    "insurance.whose_other": "De otra persona",
    "insurance.holder": "El titular de la póliza",
    "insurance.holder_hint": "La persona cuyo nombre está en el plan de seguro, como en la tarjeta. La compañía " +
      "de seguros le busca a usted con el nombre de esa persona.",
    "insurance.holder_first": "Su nombre",
    "insurance.holder_last": "Su apellido",
    "insurance.holder_dob": "Su fecha de nacimiento",
    "insurance.holder_dob_hint": "Por ejemplo, 27 de abril de 1970.",
    "screening.heading": "Cómo se ha sentido",
    "screening.intro": "Estas son preguntas estándar que usan los profesionales clínicos. Algunas preguntan sobre " +
      "el suicidio. Responda con la mayor sinceridad posible: un profesional clínico lee sus respuestas. Si está " +
      "en peligro ahora, llame al 911 o llame al 988 y marque 2; no nos espere.",
    "screening.risk_note": "Gracias por decírnoslo. Si está pensando en quitarse la vida ahora mismo, llame al " +
      "[988](tel:988) y marque 2, o envíe AYUDA por mensaje de texto al [988](sms:988) para hablar con alguien " +
      "ahora, o llame al [911](tel:911) si está en peligro. También puede pulsar “Necesito ayuda ahora” arriba " +
      "en la página.",
    "screening.english_only": "Estas preguntas se muestran en inglés hasta que la clínica haya revisado la " +
      "versión publicada en español.",
    "prefs.heading": "Sus preferencias",
    "prefs.channels": "¿Cómo quiere recibir los recordatorios?",
    "prefs.sms": "Mensaje de texto (SMS)",
    "prefs.email": "Correo electrónico",
    "prefs.times": "¿A qué horas del día le vienen bien las sesiones?",
    "prefs.morning": "Mañana",
    "prefs.afternoon": "Tarde",
    "prefs.evening": "Noche",
    "prefs.language": "¿En qué idioma prefiere recibir su atención?",
    "consent.heading": "Consentimiento",
    "consent.telehealth": "Acepto recibir atención por video seguro (telesalud).",
    "consent.telehealth_hint": "La telesalud tiene beneficios y algunos riesgos, como que se corte la conexión. " +
      "Si eso pasa durante una sesión, su equipo de atención intentará comunicarse con usted por teléfono. " +
      "Obligatorio.",
    "consent.privacy": "Recibí y leí el Aviso de Prácticas de Privacidad de la clínica.",
    "consent.required": "Obligatorio.",
    "consent.privacy_link": "Leer el Aviso de Prácticas de Privacidad (se abre en una pestaña nueva)",
    "consent.sms": "Acepto recibir mensajes de texto sobre mis citas.",
    "consent.sms_hint": "Como máximo uno al día, al número de teléfono que indicó. Pueden aplicarse tarifas de " +
      "mensajes y datos. Responda STOP en cualquier momento para no recibir más.",
    "consent.email": "Acepto recibir correos electrónicos sobre mis citas.",
    "consent.signature": "Escriba su nombre completo para firmar",
    "review.heading": "Revise sus respuestas",
    "review.intro": "Revise sus respuestas y luego pulse Enviar. Puede cambiar cualquier cosa antes de enviar.",
    "review.change": "Cambiar",
    "review.name": "Nombre",
    "review.dob": "Fecha de nacimiento",
    "review.email": "Correo electrónico",
    "review.phone": "Teléfono",
    "review.timezone": "Zona horaria",
    "review.home_address": "Dirección de su casa",
    "review.address": "Dirección",
    "review.my_home": "La dirección de mi casa",
    "review.relationship": "Relación",
    "review.company": "Compañía de seguros",
    "review.member_id": "Número de miembro",
    "review.group_number": "Número de grupo",
    "review.whose": "De quién es el plan",
    "review.holder": "Titular de la póliza",
    "review.holder_dob": "Fecha de nacimiento del titular",
    "review.payment": "Pago",
    "review.not_answered": "Sin responder",
    "review.answered": "Preguntas respondidas",
    "review.answered_count": "{answered} de {total}",
    "review.reminders": "Recordatorios por",
    "review.text_message": "Mensaje de texto",
    "review.no_preference": "Sin preferencia",
    "review.times": "Horario de las sesiones",
    "review.language": "Idioma",
    "review.telehealth": "Telesalud",
    "review.privacy": "Aviso de privacidad leído",
    "review.texts": "Mensajes de texto de citas",
    "review.emails": "Correos de citas",
    "review.signed": "Firmado",
    "review.not_signed": "Sin firmar",
    "review.list_separator": ", ",
    "done.heading": "Gracias. Recibimos su admisión.",
    "done.ref": "Su número de referencia es {id}. Guárdelo por si nos llama.",
    "done.next": "Una persona del equipo de admisión de la clínica revisará sus respuestas y se comunicará con " +
      "usted sobre los próximos pasos.",
    "done.questions": "¿Preguntas? Llame a la clínica al {phone}.",
    "done.crisis_lead": "Gracias por contarnos cómo se siente. Algunas de sus respuestas nos dicen que puede " +
      "estar pasando por un momento muy difícil. El equipo de atención de la clínica se comunicará con usted, y " +
      "no tiene que esperarlo.",
    "submit.sending": "Enviando sus respuestas…",
    "submit.retrying": "Problema de conexión. Intentando de nuevo (intento {n} de {total})… No cierre esta página.",
    "submit.resubmit": "Enviar estas respuestas como un envío nuevo",
    "status.400": "Nuestro sistema no pudo leer sus respuestas. Revíselas y pulse Enviar de nuevo.",
    "status.413": "Sus respuestas son demasiado largas para enviarlas. Acorte las más largas y pulse Enviar de " +
      "nuevo.",
    "status.415": "Nuestro sistema no pudo leer sus respuestas. Vuelva a cargar la página e inténtelo de nuevo.",
    "status.429": "Demasiados intentos en poco tiempo. Espere un minuto y luego pulse Enviar de nuevo.",
    "status.network": "No pudimos comunicarnos con el sistema de la clínica. Revise su conexión a internet y " +
      "pulse Enviar de nuevo: sus respuestas siguen aquí y no quedará registrado dos veces.",
    "status.server": "El sistema de la clínica tuvo un problema al guardar su formulario. Sus respuestas siguen " +
      "aquí: pulse Enviar de nuevo en un minuto. No quedará registrado dos veces.",
    "status.conflict": "Ya recibimos un envío de este formulario con respuestas distintas. Si cambió algo " +
      "después de enviarlo, puede enviar estas respuestas como un envío nuevo.",
    "err.line1": "Escriba la calle y el número.",
    "err.city": "Escriba la ciudad.",
    "err.state": "Elija el estado.",
    "err.zip": "Escriba el código postal.",
    "err.zip_format": "Escriba un código postal de 5 dígitos, como 02139.",
    "err.first_name": "Escriba su nombre.",
    "err.last_name": "Escriba su apellido.",
    "err.dob": "Escriba su fecha de nacimiento.",
    "err.dob_format": "Escriba su fecha de nacimiento como año, mes y día, por ejemplo 1990-04-27.",
    "err.dob_real": "Escriba una fecha de nacimiento real.",
    "err.dob_future": "La fecha de nacimiento no puede ser en el futuro.",
    "err.dob_min_age": "Este programa es para personas de 12 años o más.",
    "err.dob_year": "Revise el año de su fecha de nacimiento.",
    "err.holder_dob_format": "Escriba la fecha de nacimiento como año, mes y día, por ejemplo 1970-04-27.",
    "err.holder_dob_year": "Revise el año de la fecha de nacimiento.",
    "err.email_or_phone": "Escriba un correo electrónico o un número de teléfono para que podamos comunicarnos " +
      "con usted.",
    "err.phone_or_email": "Escriba un número de teléfono o un correo electrónico para que podamos comunicarnos " +
      "con usted.",
    "err.email_format": "Escriba un correo electrónico como nombre@ejemplo.com.",
    "err.phone_format": "Escriba un número de teléfono como (212) 201-4477, o un número internacional que " +
      "empiece con +.",
    "err.timezone": "Elija su zona horaria.",
    "err.timezone_name": "Escriba un nombre de zona horaria como America/Detroit, o elija una de la lista.",
    "err.ec_name": "Escriba el nombre de su contacto de emergencia.",
    "err.ec_relationship": "Diga qué relación tiene su contacto de emergencia con usted.",
    "err.ec_phone": "Escriba el número de teléfono de su contacto de emergencia.",
    "err.coverage": "Elija seguro médico o pagar usted mismo.",
    "err.payer": "Elija su compañía de seguros.",
    "err.payer_name": "Escriba el nombre de su compañía de seguros.",
    "err.member_id": "Escriba el número de miembro de su tarjeta del seguro.",
    "err.holder_first": "Escriba el nombre del titular de la póliza.",
    "err.holder_last": "Escriba el apellido del titular de la póliza.",
    "err.holder_dob": "Escriba la fecha de nacimiento del titular de la póliza.",
    "err.telehealth": "Para participar en un programa virtual, acepte la atención por telesalud.",
    "err.privacy": "Confirme que leyó el Aviso de Prácticas de Privacidad.",
    "err.signature": "Escriba su nombre completo para firmar.",
    "assess.title": "Sus preguntas de seguimiento",
    "assess.heading": "Cómo se ha sentido",
    "assess.intro": "Su equipo de atención hace estas preguntas más o menos cada semana para ver cómo le va con " +
      "el tratamiento. Tardará unos tres minutos. Un profesional clínico lee sus respuestas. Si está en peligro " +
      "ahora, llame al 911 o llame al 988 y marque 2; no nos espere.",
    "assess.no_token": "Este enlace no está completo. Abra de nuevo el enlace de su mensaje o pida uno nuevo a " +
      "la clínica.",
    "assess.submit": "Enviar mis respuestas",
    "assess.sending": "Enviando sus respuestas…",
    "assess.done_heading": "Gracias. Su equipo de atención tiene sus respuestas.",
    "assess.done_text": "Puede cerrar esta página. Su equipo de atención hablará de sus respuestas con usted en " +
      "su próxima sesión.",
    "assess.done_crisis_lead": "Gracias por contarnos cómo se siente. Algunas de sus respuestas nos dicen que " +
      "puede estar pasando por un momento muy difícil. El equipo de atención de la clínica se comunicará con " +
      "usted, y no tiene que esperarlo.",
    "assess.used": "Estas respuestas ya se enviaron con este enlace, así que no se puede usar de nuevo. Si quiere " +
      "decirle algo a su equipo de atención, llame a la clínica.",
    "assess.expired": "Este enlace venció o no es válido. Pida uno nuevo a la clínica.",
    "assess.network": "No pudimos comunicarnos con el sistema de la clínica. Revise su conexión a internet y " +
      "pulse “Enviar mis respuestas” de nuevo: sus respuestas siguen aquí.",
    "assess.server": "El sistema de la clínica tuvo un problema al guardar sus respuestas. Sus respuestas siguen " +
      "aquí: inténtelo de nuevo en un minuto."
  };

  var CATALOGUES = { en: EN, es: ES };
  var TOKEN_RE = /\[([^\]]+)\]\(((?:tel|sms|https):[^)\s]*)\)|\{([a-z_]+)\}/g;

  function normal(lang) {
    return LANGUAGES.indexOf(lang) >= 0 ? lang : "en";
  }

  function language() {
    var fromUrl = "";
    try {
      fromUrl = new URLSearchParams(window.location.search).get("lang") || "";
    } catch (e) {
      fromUrl = "";
    }
    if (LANGUAGES.indexOf(fromUrl) >= 0) {
      return fromUrl;
    }
    var kept = "";
    try {
      kept = window.localStorage.getItem(STORAGE_KEY) || "";
    } catch (e) {
      kept = ""; // storage blocked: the address bar still carries the choice
    }
    return normal(kept);
  }

  function choose(lang) {
    lang = normal(lang);
    try {
      window.localStorage.setItem(STORAGE_KEY, lang);
    } catch (e) {
      /* storage blocked */
    }
    try {
      var url = new URL(window.location.href);
      url.searchParams.set("lang", lang);
      window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    } catch (e) {
      /* history not available */
    }
    return lang;
  }

  function message(lang, key) {
    var cat = CATALOGUES[normal(lang)];
    if (!Object.prototype.hasOwnProperty.call(cat, key)) {
      throw new Error("no message " + key);
    }
    return cat[key];
  }

  function parts(lang, key, params) {
    var text = message(lang, key);
    var out = [];
    var last = 0;
    TOKEN_RE.lastIndex = 0;
    var m;
    while ((m = TOKEN_RE.exec(text)) !== null) {
      if (m.index > last) {
        out.push(text.slice(last, m.index));
      }
      if (m[1] !== undefined) {
        out.push({ link: m[1], href: m[2] });
      } else {
        var v = params && Object.prototype.hasOwnProperty.call(params, m[3]) ? params[m[3]] : "";
        out.push(v);
      }
      last = TOKEN_RE.lastIndex;
    }
    if (last < text.length) {
      out.push(text.slice(last));
    }
    return out;
  }

  function t(lang, key, params) {
    return parts(lang, key, params).map(function (p) {
      if (p && typeof p === "object" && p.link !== undefined) {
        return p.link;
      }
      if (p && typeof p === "object" && p.nodeType) {
        return p.textContent;
      }
      return String(p);
    }).join("");
  }

  function fill(node, lang, key, params) {
    var children = parts(lang, key, params).map(function (p) {
      if (p && typeof p === "object" && p.link !== undefined) {
        var a = document.createElement("a");
        a.setAttribute("href", p.href);
        a.textContent = p.link;
        return a;
      }
      if (p && typeof p === "object" && p.nodeType) {
        return p;
      }
      return document.createTextNode(String(p));
    });
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
    children.forEach(function (c) {
      node.appendChild(c);
    });
    return node;
  }

  // Slots: a [data-i18n] element's children marked data-i18n-slot="name" are kept (moved) into
  // the message's {name}, so a page element (an id, a link) survives a change of language.
  function apply(root, lang) {
    lang = normal(lang);
    document.documentElement.setAttribute("lang", lang);
    Array.prototype.forEach.call((root || document).querySelectorAll("[data-i18n]"), function (node) {
      var params = {};
      Array.prototype.forEach.call(node.querySelectorAll("[data-i18n-slot]"), function (slot) {
        params[slot.getAttribute("data-i18n-slot")] = slot;
      });
      fill(node, lang, node.getAttribute("data-i18n"), params);
    });
    Array.prototype.forEach.call((root || document).querySelectorAll("[data-i18n-attr]"), function (node) {
      node.getAttribute("data-i18n-attr").split(";").forEach(function (pair) {
        var bits = pair.split(":");
        if (bits.length === 2) {
          node.setAttribute(bits[0].trim(), t(lang, bits[1].trim()));
        }
      });
    });
    // The language switch itself: the current choice is pressed.
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang-choice]"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-lang-choice") === lang ? "true" : "false");
    });
  }

  window.IOP_I18N = Object.freeze({
    LANGUAGES: LANGUAGES.slice(),
    catalogues: CATALOGUES,
    language: language,
    choose: choose,
    t: t,
    fill: fill,
    apply: apply
  });
})();
