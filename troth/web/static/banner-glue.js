/* troth's part of the cookie banner: runs vanilla-cookieconsent with the configuration troth
   built from the declaration, honours Global Privacy Control, and posts every choice to troth.
   The served banner.js calls this function with that configuration (see troth/web/banner.py). */
(function (settings) {
  "use strict";
  var CookieConsent = window.CookieConsent;
  if (!CookieConsent || window.trothBanner) {
    return; // the library is missing, or the script was added to the page twice
  }

  var head = document.head || document.documentElement;
  var stylesheet = document.createElement("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = settings.stylesheet;
  head.appendChild(stylesheet);

  var config = settings.cookieconsent;
  // GPC: the browser says so (navigator.globalPrivacyControl), or it sent Sec-GPC: 1 when it
  // fetched this script (settings.gpcSignal; the response varies on that header).
  var gpc = navigator.globalPrivacyControl === true || settings.gpcSignal === true;
  var switchedOff = gpc ? settings.gpcCategories : [];

  function isSwitchedOff(category) {
    return switchedOff.indexOf(category) !== -1;
  }

  // A category GPC switches off is taken out of the library's configuration: the library cannot
  // accept it, and its scripts never run. Its section stays, without a toggle, saying why.
  var erase = [];
  switchedOff.forEach(function (category) {
    var settingsOf = config.categories[category] || {};
    ((settingsOf.autoClear && settingsOf.autoClear.cookies) || []).forEach(function (cookie) {
      erase.push(cookie.name);
    });
    delete config.categories[category];
  });
  Object.keys(config.language.translations).forEach(function (language) {
    config.language.translations[language].preferencesModal.sections.forEach(function (section) {
      if (section.linkedCategory && isSwitchedOff(section.linkedCategory)) {
        delete section.linkedCategory;
        section.description = (section.description ? section.description + " " : "") +
          settings.gpcNote;
      }
    });
  });

  function known(category) {
    return Object.prototype.hasOwnProperty.call(config.categories, category);
  }

  function record(cookie) {
    var body = {
      browser_id: cookie.consentId,
      accepted: (cookie.categories || []).filter(known),
      revision: cookie.revision,
      page: location.pathname.slice(0, 500),
      gpc: gpc
    };
    if (cookie.languageCode) {
      body.language = cookie.languageCode;
    }
    try {
      fetch(settings.endpoint, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        keepalive: true,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body)
      }).catch(function () {
        // The choice is kept in the browser either way; troth records it on the next change.
      });
    } catch (error) {
      // fetch is missing or refused the request; the banner itself keeps working.
    }
  }

  config.onFirstConsent = function (event) { record(event.cookie); };
  config.onChange = function (event) { record(event.cookie); };

  window.trothBanner = {
    showPreferences: function () { CookieConsent.showPreferences(); },
    gpc: gpc,
    gpcCategories: switchedOff.slice()
  };

  CookieConsent.run(config).then(function () {
    if (!switchedOff.length) {
      return;
    }
    // Cookies a switched-off category may have set before GPC was on (those this site reaches).
    if (erase.length) {
      CookieConsent.eraseCookies(erase);
    }
    // A choice made before GPC was switched on may still allow a category GPC now switches
    // off: withdraw it (the library records the change and calls onChange, which posts it).
    if (!CookieConsent.validConsent()) {
      return;
    }
    var stored = CookieConsent.getCookie("categories") || [];
    if (stored.some(isSwitchedOff)) {
      CookieConsent.acceptCategory(stored.filter(function (c) { return !isSwitchedOff(c); }));
    }
  });
})
