/*
 * The pay pages' script: save the card with Stripe.js, have our server charge it, then
 * wait for the receipt. It runs unchanged on Stripe.js and on localstripe's stand-in, and
 * reads every value from data- attributes (the Content-Security-Policy allows no inline
 * script). The card number goes from the card element to Stripe only.
 *
 * Card page (#card-form): POST setup -> stripe.confirmCardSetup(secret, {payment_method:
 * {card}}) -> POST charge {payment_method} -> stripe.confirmCardPayment(secret) only when
 * the bank asks (requires_action) -> the status page.
 * Status page (#payment-status): polls status.json, gently, and reloads when the state changes.
 *
 * A page in another language gives the texts as data-msg-* attributes of the form and the
 * language as data-locale (Stripe.js then speaks it too).
 */
(function () {
  "use strict";

  var UNAVAILABLE = "Payments are temporarily unavailable. Please try again in a few minutes.";
  var EXPIRED = "This page has expired. Reload it and try again.";
  var NOT_SAVED = "The card could not be checked. Check the card details and try again.";
  var PAYING = "Paying…";
  var SENT = "Payment sent. Opening the receipt…";

  /** Take the page's own texts, where it gives them. */
  function useTexts(data) {
    UNAVAILABLE = data.msgUnavailable || UNAVAILABLE;
    EXPIRED = data.msgExpired || EXPIRED;
    NOT_SAVED = data.msgNotSaved || NOT_SAVED;
    PAYING = data.msgPaying || PAYING;
    SENT = data.msgSent || SENT;
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

  /** One attempt: save the card, charge it, authenticate if the bank asks. */
  async function payOnce(stripe, card, data) {
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
    var charged = await postJson(
      data.chargeUrl,
      { payment_method: savedMethod(saved.setupIntent) },
      data.csrfToken
    );
    if (charged.error) {
      return charged;
    }
    if (charged.status === "requires_action") {
      var confirmed = await stripe.confirmCardPayment(charged.client_secret);
      if (confirmed.error) {
        return { error: confirmed.error.message || NOT_SAVED };
      }
    }
    return {};
  }

  /** Mount the card element and pay on submit; errors show under the card. */
  function setUpCardForm(form) {
    var button = form.querySelector("#pay-button");
    var errorBox = form.querySelector("#card-error");
    var progress = form.querySelector("#card-progress");
    var restart = form.querySelector("#card-restart");
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
      progress.textContent = PAYING;
      var outcome = await payOnce(stripe, card, form.dataset);
      if (!outcome.error) {
        progress.textContent = SENT;
        window.location.assign(form.dataset.statusUrl);
        return;
      }
      progress.textContent = "";
      errorBox.textContent = outcome.error;
      if (outcome.restart_url) {
        restart.querySelector("a").href = outcome.restart_url;
        restart.hidden = false;
      }
      busy = false;
      button.disabled = false;
    });
  }

  /** Ask status.json now and then (less often as time passes); reload once the state moves. */
  function pollStatus(box) {
    var delay = 1000;
    async function check() {
      if (!document.hidden) {
        try {
          var response = await fetch(box.dataset.pollUrl, {
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          });
          var data = response.ok ? await response.json() : {};
          if (data.state && data.state !== box.dataset.state) {
            window.location.reload();
            return;
          }
        } catch (networkError) {
          // Try again at the next turn.
        }
      }
      delay = Math.min(delay * 1.5, 15000);
      window.setTimeout(check, delay);
    }
    window.setTimeout(check, delay);
  }

  var form = document.getElementById("card-form");
  if (form) {
    setUpCardForm(form);
  }
  var statusBox = document.getElementById("payment-status");
  if (statusBox && statusBox.dataset.pollUrl) {
    pollStatus(statusBox);
  }
})();
