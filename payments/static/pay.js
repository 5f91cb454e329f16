/*
 * The pay pages' script (after card_form.js): save the card with Stripe.js, have our server
 * charge it, then wait for the receipt. It runs unchanged on Stripe.js and on localstripe's
 * stand-in and reads every value from data- attributes (no inline script is allowed).
 *
 * Card page (#card-form): card_form.js saves the card -> POST charge {payment_method} ->
 * stripe.confirmCardPayment(secret) only when the bank asks (requires_action) -> the
 * status page. A decline answers with the next try's addresses where the side offers it.
 * A charge Stripe gave no answer to ("unknown") goes to the status page, which says the
 * payment is being confirmed and polls like any other.
 * A changed convenience fee answers with the new fee (and the new payment's addresses): the
 * page shows the new fee and total, and the payer pays again or cancels.
 * Status page (#payment-status): polls status.json, gently, and reloads when the state changes.
 */
(function () {
  "use strict";

  /** Charge the saved card; authenticate if the bank asks. {} or {error, restart_url}. */
  function charger(form) {
    return async function (stripe, method, texts) {
      var charged = await window.MunibillCardForm.postJson(
        form.dataset.chargeUrl,
        { payment_method: method },
        form.dataset.csrfToken,
        texts
      );
      if (charged.error) {
        return charged;
      }
      if (charged.status === "unknown") {
        // Stripe gave no answer: the status page says the payment is being confirmed.
        return { message: charged.message };
      }
      if (charged.status === "requires_action") {
        var confirmed = await stripe.confirmCardPayment(charged.client_secret);
        if (confirmed.error) {
          return { error: confirmed.error.message || texts.notSaved };
        }
      }
      return {};
    };
  }

  /**
   * The card form: pay on submit. After a declined card the server may have recorded the next
   * try (`retry`: its setup, charge and status addresses): the form moves to it and the card
   * element is emptied, so another card pays in one step. A spent payment offers to start a
   * new one.
   */
  function setUpCardForm(form) {
    var restart = form.querySelector("#card-restart");
    window.MunibillCardForm.mount(form, {
      button: form.querySelector("#pay-button"),
      next: charger(form),
      doneUrl: function () {
        return form.dataset.statusUrl;
      },
      onError: function (outcome, controls) {
        if (outcome.fee && !document.querySelector("[data-fee-total]")) {
          // A fee where there was none: the new payment's page shows it before anything is paid.
          window.location.assign((outcome.retry && outcome.retry.card_url) || outcome.restart_url);
          return;
        }
        if (outcome.fee) {
          showFee(outcome.fee, outcome.retry);
        }
        if (outcome.retry) {
          form.dataset.setupUrl = outcome.retry.setup_url;
          form.dataset.chargeUrl = outcome.retry.charge_url;
          form.dataset.statusUrl = outcome.retry.status_url;
          controls.clearCard();
        }
        if (outcome.restart_url) {
          restart.querySelector("a").href = outcome.restart_url;
          restart.hidden = false;
        }
      },
    });
  }

  /** Show a changed convenience fee: the fee, the total and the pay button's amount. */
  function showFee(fee, retry) {
    var button = document.getElementById("pay-button");
    var total = document.querySelector("[data-fee-total]");
    var before = total ? total.textContent : null;
    document.querySelectorAll("[data-fee-amount]").forEach(function (node) {
      node.textContent = fee.fee;
    });
    if (total) {
      total.textContent = fee.total;
    }
    if (button && before) {
      button.textContent = button.textContent.replace(before, fee.total);
    }
    var cancel = document.getElementById("fee-cancel");
    if (cancel && retry && retry.cancel_url) {
      cancel.action = retry.cancel_url;
    }
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
