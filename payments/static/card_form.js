/*
 * What every card form of ours does with Stripe.js: mount the card element, ask our server
 * for a SetupIntent, let Stripe.js save the card (confirmCardSetup), then hand the saved
 * payment method to the page's own next step (charge it now, or keep it for autopay).
 * It runs unchanged on Stripe.js and on localstripe's stand-in, reads every value from
 * data- attributes (the Content-Security-Policy allows no inline script), and the card
 * number goes from the card element to Stripe only.
 *
 * A page gives its texts in its language as data-msg-* attributes of the form
 * (unavailable, expired, not-saved, busy, done) and its language as data-locale.
 */
window.MunibillCardForm = (function () {
  "use strict";

  var DEFAULTS = {
    unavailable: "Payments are temporarily unavailable. Please try again in a few minutes.",
    expired: "This page has expired. Reload it and try again.",
    notSaved: "The card could not be checked. Check the card details and try again.",
    busy: "Working…",
    done: "Done.",
  };

  /** The form's texts, each falling back to the English default. */
  function textsOf(data) {
    return {
      unavailable: data.msgUnavailable || DEFAULTS.unavailable,
      expired: data.msgExpired || DEFAULTS.expired,
      notSaved: data.msgNotSaved || DEFAULTS.notSaved,
      busy: data.msgBusy || DEFAULTS.busy,
      done: data.msgDone || DEFAULTS.done,
    };
  }

  /** POST JSON with the CSRF header; always resolves to an object, with `error` on failure. */
  async function postJson(url, body, csrfToken, texts) {
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
      return { error: texts.unavailable };
    }
    var data = await response.json().catch(function () {
      return {};
    });
    if (!response.ok && !data.error) {
      data.error = response.status >= 500 ? texts.unavailable : texts.expired;
    }
    return data;
  }

  /** The id of the payment method a confirmed SetupIntent saved. */
  function savedMethod(setupIntent) {
    var method = setupIntent && setupIntent.payment_method;
    return method && typeof method === "object" ? method.id : method;
  }

  /** A SetupIntent from data-setup-url, the card saved by Stripe.js: {method} or {error}. */
  async function saveCard(stripe, card, data, texts) {
    var setup = await postJson(data.setupUrl, {}, data.csrfToken, texts);
    if (setup.error || !setup.client_secret) {
      return setup.error ? setup : { error: texts.expired };
    }
    var saved = await stripe.confirmCardSetup(setup.client_secret, {
      payment_method: { card: card },
    });
    if (saved.error || !savedMethod(saved.setupIntent)) {
      return { error: (saved.error && saved.error.message) || texts.notSaved };
    }
    return { method: savedMethod(saved.setupIntent) };
  }

  /**
   * Empty the card element for another card: Stripe.js's element has clear(); localstripe's
   * stand-in has none, so it is mounted again (which makes its inputs anew, empty).
   */
  function clearCard(card) {
    if (typeof card.clear === "function") {
      card.clear();
    } else {
      card.unmount();
      card.mount("#card-element");
    }
    if (typeof card.focus === "function") {
      card.focus();
    }
  }

  /**
   * Mount the card element in #card-element and run one attempt per submit:
   * the card is saved, then `next(stripe, method, texts)` does the page's step and resolves
   * to {} or {message} (shown while the browser goes to `doneUrl(outcome)`) or {error, ...}
   * (shown in #card-error, then `onError(outcome, controls)`, where `controls.clearCard()`
   * empties the card element for another card). The button is enabled once the card is
   * mounted, and again after every refusal.
   */
  function mount(form, options) {
    var errorBox = form.querySelector("#card-error");
    var progress = form.querySelector("#card-progress");
    var texts = textsOf(form.dataset);
    if (typeof window.Stripe !== "function") {
      errorBox.textContent = texts.unavailable;
      return;
    }
    var stripeOptions = form.dataset.locale ? { locale: form.dataset.locale } : undefined;
    var stripe = window.Stripe(form.dataset.stripeKey, stripeOptions);
    var card = stripe.elements().create("card", { style: { base: { fontSize: "16px" } } });
    card.mount("#card-element");
    var busy = false;
    options.button.disabled = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      busy = true;
      options.button.disabled = true;
      errorBox.textContent = "";
      progress.textContent = texts.busy;
      var saved = await saveCard(stripe, card, form.dataset, texts);
      var outcome = saved.error ? saved : await options.next(stripe, saved.method, texts);
      if (!outcome.error) {
        progress.textContent = outcome.message || texts.done;
        window.location.assign(options.doneUrl(outcome));
        return;
      }
      progress.textContent = "";
      errorBox.textContent = outcome.error;
      if (options.onError) {
        options.onError(outcome, {
          clearCard: function () {
            clearCard(card);
          },
        });
      }
      busy = false;
      options.button.disabled = false;
    });
  }

  return { postJson: postJson, mount: mount };
})();
