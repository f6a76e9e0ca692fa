/*
 * Screening instruments: the wording and answer options of the PHQ-9, GAD-7 and C-SSRS screener,
 * in one place, for the intake form (app.js) and the repeat-screening page (assess.js).
 *
 * Sources (docs/website.md lists them with the state of each translation):
 * - PHQ-9 and GAD-7, English: Spitzer, Williams, Kroenke and colleagues, with an educational grant
 *   from Pfizer Inc (phqscreeners.com); no permission required to reproduce, translate, display or
 *   distribute.
 * - PHQ-9, Spanish for the USA: "Cuestionario sobre la salud del paciente-9 (PHQ-9)", the same
 *   authors and grant (phqscreeners.com, Spanish for USA), as printed on the published form.
 * - C-SSRS screener (Columbia Protocol, screen version, "since last contact"/"past month" wording):
 *   The Columbia Lighthouse Project, cssrs.columbia.edu.
 * - GAD-7 and C-SSRS in Spanish: NOT YET. Until the clinic has verified the published Spanish
 *   (USA) texts, `get(name, "es")` answers the English wording with `lang: "en"`, and the pages
 *   mark those questions lang="en". Never put an unvalidated translation here.
 *
 * Exposes window.IOP_SCREENING = { get(name, lang), languages(name) }; defines nothing else.
 */
(function () {
  "use strict";

  var EN_SCALE = ["Not at all", "Several days", "More than half the days", "Nearly every day"];

  var INSTRUMENTS = {
    phq9: {
      en: {
        title: "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
        scale: EN_SCALE,
        items: [
          "Little interest or pleasure in doing things",
          "Feeling down, depressed, or hopeless",
          "Trouble falling or staying asleep, or sleeping too much",
          "Feeling tired or having little energy",
          "Poor appetite or overeating",
          "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
          "Trouble concentrating on things, such as reading the newspaper or watching television",
          "Moving or speaking so slowly that other people could have noticed? Or the opposite: being so " +
            "fidgety or restless that you have been moving around a lot more than usual",
          "Thoughts that you would be better off dead or of hurting yourself in some way"
        ]
      },
      es: {
        title: "Durante las \u00faltimas 2 semanas, \u00bfqu\u00e9 tan seguido ha tenido molestias debido a los " +
          "siguientes problemas?",
        scale: ["Ning\u00fan d\u00eda", "Varios d\u00edas", "M\u00e1s de la mitad de los d\u00edas",
          "Casi todos los d\u00edas"],
        items: [
          "Poco inter\u00e9s o placer en hacer cosas",
          "Se ha sentido deca\u00eddo(a), deprimido(a) o sin esperanzas",
          "Ha tenido dificultad para quedarse o permanecer dormido(a), o ha dormido demasiado",
          "Se ha sentido cansado(a) o con poca energ\u00eda",
          "Sin apetito o ha comido en exceso",
          "Se ha sentido mal con usted mismo(a) \u2013 o que es un fracaso o que ha quedado mal con usted " +
            "mismo(a) o con su familia",
          "Ha tenido dificultad para concentrarse en ciertas actividades, tales como leer el peri\u00f3dico " +
            "o ver la televisi\u00f3n",
          "\u00bfSe ha movido o hablado tan lento que otras personas podr\u00edan haberlo notado? o lo " +
            "contrario \u2013 muy inquieto(a) o agitado(a) que ha estado movi\u00e9ndose mucho m\u00e1s de lo normal",
          "Pensamientos de que estar\u00eda mejor muerto(a) o de lastimarse de alguna manera"
        ]
      }
    },
    gad7: {
      en: {
        title: "Over the last 2 weeks, how often have you been bothered by the following problems?",
        scale: EN_SCALE,
        items: [
          "Feeling nervous, anxious, or on edge",
          "Not being able to stop or control worrying",
          "Worrying too much about different things",
          "Trouble relaxing",
          "Being so restless that it is hard to sit still",
          "Becoming easily annoyed or irritable",
          "Feeling afraid as if something awful might happen"
        ]
      }
    },
    cssrs: {
      en: {
        title: "In the past month:",
        yes: "Yes",
        no: "No",
        // Questions 3-5 are asked only when question 2 is yes (followup: true).
        items: [
          { key: "wish_to_be_dead", n: 1,
            text: "Have you wished you were dead or wished you could go to sleep and not wake up?" },
          { key: "suicidal_thoughts", n: 2,
            text: "Have you actually had any thoughts of killing yourself?" },
          { key: "thoughts_with_method", n: 3, followup: true,
            text: "Have you been thinking about how you might do this?",
            hint: "For example: \u201cI thought about taking an overdose but I never made a specific plan as to " +
              "when, where or how I would actually do it, and I would never go through with it.\u201d" },
          { key: "intent", n: 4, followup: true,
            text: "Have you had these thoughts and had some intention of acting on them?",
            hint: "As opposed to \u201cI have the thoughts but I definitely will not do anything about them.\u201d" },
          { key: "plan", n: 5, followup: true,
            text: "Have you started to work out or worked out the details of how to kill yourself? " +
              "Do you intend to carry out this plan?" },
          { key: "behavior_past_3_months", n: 6,
            text: "In the past 3 months, have you done anything, started to do anything, or prepared to do " +
              "anything to end your life?",
            hint: "For example: collected pills, obtained a gun, gave away valuables, wrote a will or suicide " +
              "note, took out pills but didn\u2019t swallow any, held a gun but changed your mind or it was " +
              "grabbed from your hand, went to the roof but didn\u2019t jump; or actually took pills, tried to " +
              "shoot yourself, cut yourself, tried to hang yourself." }
        ]
      }
    }
  };

  function languages(name) {
    return Object.keys(INSTRUMENTS[name] || {});
  }

  // The wording of `name` in `lang` when a published version is held, else English; the answer
  // says which language it is in (`lang`) so the page can mark it.
  function get(name, lang) {
    var byLang = INSTRUMENTS[name];
    if (!byLang) {
      throw new Error("unknown instrument " + name);
    }
    var chosen = byLang[lang] ? lang : "en";
    var src = byLang[chosen];
    var out = { lang: chosen };
    Object.keys(src).forEach(function (k) {
      out[k] = src[k];
    });
    return out;
  }

  window.IOP_SCREENING = Object.freeze({ get: get, languages: languages });
})();
