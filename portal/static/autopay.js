/*
 * The autopay page's script: save a card with Stripe.js for off-session charges, then have
 * our server enroll it. It runs unchanged on Stripe.js and on localstripe's stand-in, and
 * reads every value from data- attributes (the Content-Security-Policy allows no inline
 * script). The card number goes from the card element to Stripe only.
 *
 * POST setup -> stripe.confirmCardSetup(secret, {payment_method: {card}}) -> POST confirm
 * {payment_method} -> the autopay page, which now shows the card.
 *
 * The page gives its texts, in its language, as data-msg-* attributes of the form, and the
 * language as data-locale (Stripe.js then speaks it too).
 */
(function () {
  "use strict";

  var UNAVAILABLE = "Payments are temporarily unavailable. Please try again in a few minutes.";
  var EXPIRED = "This page has expired. Reload it and try again.";
  var NOT_SAVED = "The card could not be checked. Check the card details and try again.";
  var SAVING = "Saving your card…";
  var SAVED = "Autopay is on. Opening your autopay page…";

  /** Take the page's own texts, where it gives them. */
  function useTexts(data) {
    UNAVAILABLE = data.msgUnavailable || UNAVAILABLE;
    EXPIRED = data.msgExpired || EXPIRED;
    NOT_SAVED = data.msgNotSaved || NOT_SAVED;
    SAVING = data.msgSaving || SAVING;
    SAVED = data.msgSaved || SAVED;
  }

  /** POST JSON with the CSRF header; always resolves to an object, with `error` on failure. */
  async function postJson(url, body, csrfToken) {
    var response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken,
        },
        body: JSON.stringify(body),
      });
    } catch (networkError) {
      return { error: UNAVAILABLE };
    }
    var data = await response.json().catch(function () {
      return {};
    });
    if (!response.ok && !data.error) {
      data.error = response.status >= 500 ? UNAVAILABLE : EXPIRED;
    }
    return data;
  }

  /** The id of the payment method a confirmed SetupIntent saved. */
  function savedMethod(setupIntent) {
    var method = setupIntent && setupIntent.payment_method;
    return method && typeof method === "object" ? method.id : method;
  }

  /** One attempt: a SetupIntent from our server, the card saved by Stripe.js, then enrolled. */
  async function enrollOnce(stripe, card, data) {
    var setup = await postJson(data.setupUrl, {}, data.csrfToken);
    if (setup.error || !setup.client_secret) {
      return setup.error ? setup : { error: EXPIRED };
    }
    var saved = await stripe.confirmCardSetup(setup.client_secret, {
      payment_method: { card: card },
    });
    if (saved.error || !savedMethod(saved.setupIntent)) {
      return { error: (saved.error && saved.error.message) || NOT_SAVED };
    }
    return postJson(
      data.confirmUrl,
      { payment_method: savedMethod(saved.setupIntent) },
      data.csrfToken
    );
  }

  /** Mount the card element and enroll on submit; errors show under the card. */
  function setUpAutopayForm(form) {
    var button = form.querySelector("#autopay-button");
    var errorBox = form.querySelector("#card-error");
    var progress = form.querySelector("#card-progress");
    useTexts(form.dataset);
    if (typeof window.Stripe !== "function") {
      errorBox.textContent = UNAVAILABLE;
      return;
    }
    var options = form.dataset.locale ? { locale: form.dataset.locale } : undefined;
    var stripe = window.Stripe(form.dataset.stripeKey, options);
    var card = stripe.elements().create("card", { style: { base: { fontSize: "16px" } } });
    card.mount("#card-element");
    var busy = false;
    button.disabled = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      busy = true;
      button.disabled = true;
      errorBox.textContent = "";
      progress.textContent = SAVING;
      var outcome = await enrollOnce(stripe, card, form.dataset);
      if (!outcome.error) {
        progress.textContent = SAVED;
        window.location.assign(outcome.redirect || form.dataset.doneUrl);
        return;
      }
      progress.textContent = "";
      errorBox.textContent = outcome.error;
      busy = false;
      button.disabled = false;
    });
  }

  var form = document.getElementById("autopay-form");
  if (form) {
    setUpAutopayForm(form);
  }
})();
